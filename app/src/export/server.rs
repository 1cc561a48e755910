//! The `/metrics` endpoint (`--prometheus ADDR:PORT`): HTTP/1.1 through hyper, on the run's
//! tokio runtime. The listening socket is bound before anything is attached, so a taken port
//! is a one-line error at start; each scrape is encoded on a blocking thread, so a large
//! exposition never holds up the collector's tasks.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, body::Incoming, header, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};

use super::Metrics;

/// Scrapers served at once; more wait for a slot.
const MAX_CONNECTIONS: usize = 32;
/// A client that has not sent its request head in this long is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a scrape waits for the collector's fresh figures before it serves the last ones.
const REFRESH_TIMEOUT: Duration = Duration::from_millis(250);
/// OpenMetrics' media type, which Prometheus asks for first.
const OPENMETRICS: &str = "application/openmetrics-text";
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `--prometheus ADDR:PORT` could not be listened on.
#[derive(Debug, thiserror::Error)]
// Not the error's source: the message carries it once.
#[error("--prometheus {addr}: {error}")]
pub struct BindError {
    addr: SocketAddr,
    error: std::io::Error,
}

/// The bound listening socket, ready to serve.
#[derive(Debug)]
pub struct MetricsListener {
    listener: std::net::TcpListener,
}

impl MetricsListener {
    pub fn bind(addr: SocketAddr) -> Result<Self, BindError> {
        let bind = || {
            let listener = std::net::TcpListener::bind(addr)?;
            listener.set_nonblocking(true)?;
            Ok(listener)
        };
        bind()
            .map(|listener| MetricsListener { listener })
            .map_err(|error| BindError { addr, error })
    }

    /// Where it listens (the port the system chose for port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` turns true.
    pub async fn serve(self, metrics: Arc<Metrics>, mut stop: watch::Receiver<bool>) {
        let listener = match tokio::net::TcpListener::from_std(self.listener) {
            Ok(l) => l,
            Err(e) => {
                log::error!("prometheus endpoint: {e}");
                return;
            }
        };
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot,
                _ = stop.changed() => break,
            };
            let Ok(slot) = slot else { break };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.changed() => break,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    log::warn!("prometheus endpoint: accept: {e}");
                    continue;
                }
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let service = service_fn(move |request| answer(request, metrics.clone()));
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                if let Err(e) = served {
                    log::info!("prometheus endpoint: {peer}: {e}");
                }
            });
        }
    }
}

async fn answer(
    request: Request<Incoming>,
    metrics: Arc<Metrics>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let head = request.method() == Method::HEAD;
    if request.method() != Method::GET && !head {
        return Ok(plain(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics\n"));
    }
    match request.uri().path() {
        "/metrics" => {
            let openmetrics = request
                .headers()
                .get_all(header::ACCEPT)
                .iter()
                .any(|v| v.to_str().is_ok_and(|v| v.contains(OPENMETRICS)));
            metrics.refresh(REFRESH_TIMEOUT).await;
            let rendered = tokio::task::spawn_blocking(move || metrics.render(openmetrics)).await;
            let Ok(text) = rendered else {
                return Ok(plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "encoding failed\n",
                ));
            };
            let content_type = if openmetrics {
                OPENMETRICS_CONTENT_TYPE
            } else {
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE
            };
            let body = if head {
                Bytes::new()
            } else {
                Bytes::from(text)
            };
            Ok(with_type(StatusCode::OK, content_type, body))
        }
        "/" => Ok(plain(
            StatusCode::OK,
            "httptop: the metrics are at /metrics\n",
        )),
        _ => Ok(plain(
            StatusCode::NOT_FOUND,
            "not found: the metrics are at /metrics\n",
        )),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    with_type(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(text.as_bytes()),
    )
}

fn with_type(status: StatusCode, content_type: &str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_one_line_naming_it() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let error = MetricsListener::bind(addr).unwrap_err();
        assert_eq!(
            format!("{:#}", anyhow::Error::from(error)),
            format!("--prometheus {addr}: Address already in use (os error 98)")
        );
    }

    #[tokio::test]
    async fn serves_the_exposition_and_stops_when_told() {
        let listener = MetricsListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = Arc::new(Metrics::new(
            crate::export::MetricsOptions {
                series_limit: 10,
                filter: None,
                show_query: false,
                attach: "socket".into(),
            },
            None,
        ));
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(listener.serve(metrics, stopped));
        let get = |request: &'static str| async move {
            tokio::task::spawn_blocking(move || {
                use std::io::{Read as _, Write as _};
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                stream.write_all(request.as_bytes()).unwrap();
                let mut response = String::new();
                stream.read_to_string(&mut response).unwrap();
                response
            })
            .await
            .unwrap()
        };
        // No collector answers the refresh here: the scrape serves what it has after the wait.
        let metrics = get("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
        assert!(
            metrics.contains("\nhttptop_exchanges_total 0\n"),
            "{metrics}"
        );
        let post = get(
            "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
        let missing = get("GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        stop.send(true).unwrap();
        server.await.unwrap();
    }
}
