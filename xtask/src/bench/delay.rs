//! An HTTP/1.1 keep-alive server that answers every request with 200 after a fixed delay: the
//! known server time that the latency figure measures. The whole response leaves in one write,
//! with Nagle's algorithm off, as soon as the delay is over.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use anyhow::{Context as _, Result};

use httptop_lab::NetNs;

/// How often the acceptor looks for a new connection (connection set-up is not timed).
const ACCEPT_POLL: Duration = Duration::from_millis(5);
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nContent-Type: text/plain\r\n\r\ndelayed\n";

/// The server, listening inside a namespace; stops accepting on drop (its connection threads
/// end when their clients close).
pub struct DelayServer {
    stopping: Arc<AtomicBool>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl DelayServer {
    pub fn start(namespace: &NetNs, addr: SocketAddr, delay: Duration) -> Result<Self> {
        let listener = namespace
            .run(|| TcpListener::bind(addr).with_context(|| format!("binding {addr}")))??;
        // Non-blocking, so the acceptor sees the stop flag without a wake-up connection.
        listener.set_nonblocking(true)?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stopping);
        let acceptor = thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) if stream.set_nonblocking(false).is_ok() => {
                        thread::spawn(move || serve(stream, delay));
                    }
                    _ => thread::sleep(ACCEPT_POLL),
                }
            }
        });
        Ok(Self {
            stopping,
            acceptor: Some(acceptor),
        })
    }
}

/// Answers each request (a head ending in an empty line; the bench's clients send no bodies)
/// after `delay`, until the client closes.
fn serve(mut stream: TcpStream, delay: Duration) {
    if stream.set_nodelay(true).is_err()
        || stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .is_err()
    {
        return;
    }
    let mut pending = Vec::new();
    let mut chunk = [0_u8; 2048];
    loop {
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            thread::sleep(delay);
            if stream.write_all(RESPONSE).is_err() {
                return;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(read) => pending.extend_from_slice(&chunk[..read]),
        }
    }
}

impl Drop for DelayServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}
