//! Traffic: wrk at full speed, and the bench's own clients for what wrk cannot do: a fixed
//! request rate over keep-alive connections, thousands of mostly idle connections, a client
//! timing each request to the first byte of its status line, and a bulk non-HTTP transfer.
//! Every loop is bounded in count and time.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    os::fd::AsRawFd as _,
    process::Command,
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context as _, Result, bail};

use httptop_lab::NetNs;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: httptop-bench\r\n\r\n";
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits for a scoped thread; its panic goes on in this thread.
pub fn joined<T>(handle: thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The `wrk` command line for `connections` keep-alive connections on `threads` threads.
pub fn wrk_command(
    namespace: &NetNs,
    url: &str,
    threads: u32,
    connections: u32,
    duration: Duration,
) -> Command {
    let mut command = namespace.command("wrk");
    command
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs()))
        .arg(url);
    command
}

pub struct WrkResult {
    pub requests_per_s: f64,
    pub requests: u64,
}

/// Runs wrk to its end and reads its `Requests/sec` and `N requests in` lines.
pub fn run_wrk(mut command: Command) -> Result<WrkResult> {
    let output = command.output().context("could not start wrk")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let requests_per_s = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output: {text}"))?;
    let requests = text
        .lines()
        .find_map(|line| line.trim().split_once(" requests in "))
        .and_then(|(count, _)| count.trim().parse().ok())
        .with_context(|| format!("no request count in wrk's output: {text}"))?;
    Ok(WrkResult {
        requests_per_s,
        requests,
    })
}

/// A keep-alive HTTP/1.1 client connection that waits for each response in full.
pub struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

/// One request's time to the first byte of its response, two ways.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// From just before the write to the return of the read that got the first byte: what a
    /// client program sees, its own wake-up included.
    pub to_first_read: Duration,
    /// From just before the write to the kernel's receive timestamp of the segment that
    /// carried the first byte (`SO_TIMESTAMPNS`, CLOCK_REALTIME); `None` unless the
    /// connection was opened with [`Connection::open_timed`].
    pub to_first_byte_received: Option<Duration>,
}

impl Connection {
    pub fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Self {
            stream,
            buffer: Vec::with_capacity(512),
        })
    }

    /// A connection whose reads also carry the kernel's receive timestamps. Only for the
    /// latency figure: asking for them turns on timestamping of every packet on the machine.
    pub fn open_timed(addr: SocketAddr) -> Result<Self> {
        let connection = Self::open(addr)?;
        let on: libc::c_int = 1;
        // SAFETY: a valid socket and a c_int option value of the size given.
        let rc = unsafe {
            libc::setsockopt(
                connection.stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&raw const on).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error()).context("setting SO_TIMESTAMPNS");
        }
        Ok(connection)
    }

    /// Sends one GET and reads its whole response; returns the time from the request's write
    /// to the first byte of the status line.
    pub fn exchange(&mut self) -> Result<Timing> {
        self.exchange_request(REQUEST)
    }

    /// [`Connection::exchange`] with a GET of `path` (which must start with `/`).
    pub fn get(&mut self, path: &str) -> Result<Timing> {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: httptop-bench\r\n\r\n");
        self.exchange_request(request.as_bytes())
    }

    fn exchange_request(&mut self, request: &[u8]) -> Result<Timing> {
        let sent_wall = SystemTime::now();
        let sent = Instant::now();
        self.stream
            .write_all(request)
            .context("sending a request")?;
        let mut first = None;
        let mut chunk = [0_u8; 4096];
        loop {
            if let Some(length) = complete_response_length(&self.buffer)? {
                self.buffer.drain(..length);
                return first.context("a response arrived before its request was sent");
            }
            let (read, received_at) = self.read(&mut chunk).context("reading a response")?;
            if read == 0 {
                bail!("the server closed the connection mid-response");
            }
            first.get_or_insert_with(|| Timing {
                to_first_read: sent.elapsed(),
                to_first_byte_received: received_at
                    .and_then(|at| at.duration_since(sent_wall).ok()),
            });
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }

    /// `read`, with the receive timestamp the kernel attaches when `SO_TIMESTAMPNS` is on.
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<(usize, Option<SystemTime>)> {
        let mut iov = libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        };
        // u64s: control messages need their header's alignment.
        let mut control = [0_u64; 16];
        loop {
            // SAFETY: a zeroed msghdr is valid; the pointers set below outlive the call.
            let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
            message.msg_iov = &raw mut iov;
            message.msg_iovlen = 1;
            message.msg_control = control.as_mut_ptr().cast();
            message.msg_controllen = size_of_val(&control);
            // SAFETY: a valid socket and a message whose buffers are live and sized as said.
            let read = unsafe { libc::recvmsg(self.stream.as_raw_fd(), &raw mut message, 0) };
            if read < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            let mut received_at = None;
            // SAFETY: walking the control messages the kernel wrote, with libc's own macros.
            unsafe {
                let mut header = libc::CMSG_FIRSTHDR(&raw const message);
                while !header.is_null() {
                    if (*header).cmsg_level == libc::SOL_SOCKET
                        && (*header).cmsg_type == libc::SCM_TIMESTAMPNS
                    {
                        let at: libc::timespec =
                            std::ptr::read_unaligned(libc::CMSG_DATA(header).cast());
                        received_at =
                            Some(UNIX_EPOCH + Duration::new(at.tv_sec as u64, at.tv_nsec as u32));
                    }
                    header = libc::CMSG_NXTHDR(&raw const message, header);
                }
            }
            return Ok((read as usize, received_at));
        }
    }
}

/// The length of the first complete response in `buffer` (head plus Content-Length body).
fn complete_response_length(buffer: &[u8]) -> Result<Option<usize>> {
    let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head =
        std::str::from_utf8(&buffer[..head_end]).context("a response head that is not UTF-8")?;
    if !head.starts_with("HTTP/1.") {
        bail!(
            "not an HTTP/1.x response: {}",
            head.lines().next().unwrap_or("")
        );
    }
    let body_length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .context("a response without Content-Length")?;
    let total = head_end + 4 + body_length;
    Ok((buffer.len() >= total).then_some(total))
}

pub struct FixedRateResult {
    pub exchanges: u64,
    pub elapsed: Duration,
}

/// `rate_per_s` requests a second in all, spread over `connections` keep-alive connections
/// (one thread each, each on its own fixed schedule), for `duration`; run it inside the
/// namespace.
pub fn fixed_rate(
    addr: SocketAddr,
    connections: u32,
    rate_per_s: u32,
    duration: Duration,
) -> Result<FixedRateResult> {
    let period = Duration::from_secs_f64(f64::from(connections) / f64::from(rate_per_s));
    let started = Instant::now();
    let counts = thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|index| {
                scope.spawn(move || -> Result<u64> {
                    let mut connection = Connection::open(addr)?;
                    // Staggered starts, so the connections do not send in bursts.
                    let start = started + period.mul_f64(f64::from(index) / f64::from(connections));
                    let mut exchanges = 0_u64;
                    loop {
                        let due = start + period * u32::try_from(exchanges).unwrap_or(u32::MAX);
                        if due.duration_since(started) >= duration {
                            return Ok(exchanges);
                        }
                        let now = Instant::now();
                        if due > now {
                            thread::sleep(due - now);
                        }
                        connection.exchange()?;
                        exchanges += 1;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(joined)
            .collect::<Result<Vec<u64>>>()
    })?;
    Ok(FixedRateResult {
        exchanges: counts.iter().sum(),
        elapsed: started.elapsed(),
    })
}

/// `paths.len()` GETs one after another on one keep-alive connection, one of each path; run
/// it inside the namespace. Fails past `deadline`.
pub fn get_each(addr: SocketAddr, paths: &[String], deadline: Instant) -> Result<u64> {
    let mut connection = Connection::open(addr)?;
    for (sent, path) in paths.iter().enumerate() {
        if Instant::now() >= deadline {
            bail!(
                "{} GETs of distinct paths took too long ({sent} sent)",
                paths.len()
            );
        }
        connection.get(path)?;
    }
    Ok(paths.len() as u64)
}

/// Opens `count` connections to `addr` on `threads` threads; run it inside the namespace (the
/// sockets stay in it when used elsewhere).
pub fn open_connections(
    addr: SocketAddr,
    count: u32,
    threads: u32,
    deadline: Instant,
) -> Result<Vec<Connection>> {
    let per_thread = count.div_ceil(threads);
    thread::scope(|scope| {
        let openers: Vec<_> = (0..threads)
            .map(|index| {
                let mine = per_thread.min(count.saturating_sub(index * per_thread));
                scope.spawn(move || -> Result<Vec<Connection>> {
                    let mut connections = Vec::with_capacity(mine as usize);
                    for _ in 0..mine {
                        if Instant::now() >= deadline {
                            bail!(
                                "opening connections took too long ({} of {count} open)",
                                connections.len()
                            );
                        }
                        connections.push(Connection::open(addr)?);
                    }
                    Ok(connections)
                })
            })
            .collect();
        let mut all = Vec::with_capacity(count as usize);
        for opener in openers {
            all.extend(joined(opener)?);
        }
        Ok(all)
    })
}

/// One exchange on every connection, `threads` threads sharing them out; returns how many.
pub fn exchange_on_each(
    connections: &mut [Connection],
    threads: usize,
    deadline: Instant,
) -> Result<u64> {
    let per_thread = connections.len().div_ceil(threads).max(1);
    thread::scope(|scope| {
        let workers: Vec<_> = connections
            .chunks_mut(per_thread)
            .map(|chunk| {
                scope.spawn(move || -> Result<u64> {
                    for connection in chunk.iter_mut() {
                        if Instant::now() >= deadline {
                            bail!("the exchanges on every connection took too long");
                        }
                        connection.exchange()?;
                    }
                    Ok(chunk.len() as u64)
                })
            })
            .collect();
        workers.into_iter().map(joined).sum()
    })
}

/// `requests` exchanges one after another on each of `connections` connections (one thread
/// each); returns every request's time to first byte. Run it inside the namespace.
pub fn timed_exchanges(addr: SocketAddr, connections: u32, requests: u32) -> Result<Vec<Timing>> {
    thread::scope(|scope| {
        let clients: Vec<_> = (0..connections)
            .map(|_| {
                scope.spawn(move || -> Result<Vec<Timing>> {
                    let mut connection = Connection::open_timed(addr)?;
                    (0..requests).map(|_| connection.exchange()).collect()
                })
            })
            .collect();
        let mut all = Vec::new();
        for client in clients {
            all.extend(joined(client)?);
        }
        Ok(all)
    })
}

/// Sends up to `max_bytes` over one TCP connection to a receiver on `addr` (not HTTP), for at
/// most `max_time`; returns the bytes sent. Run it inside the namespace.
pub fn bulk_transfer(addr: SocketAddr, max_bytes: u64, max_time: Duration) -> Result<u64> {
    let listener = TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
    thread::scope(|scope| {
        let receiver = scope.spawn(move || -> Result<u64> {
            let (mut stream, _) = listener.accept()?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            let mut buffer = vec![0_u8; 1 << 16];
            let mut received = 0_u64;
            loop {
                match stream.read(&mut buffer)? {
                    0 => return Ok(received),
                    read => received += read as u64,
                }
            }
        });
        let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let chunk = vec![0x5a_u8; 1 << 16];
        let started = Instant::now();
        let mut sent = 0_u64;
        while sent < max_bytes && started.elapsed() < max_time {
            stream.write_all(&chunk)?;
            sent += chunk.len() as u64;
        }
        stream.shutdown(std::net::Shutdown::Write)?;
        let received = joined(receiver)?;
        if received != sent {
            bail!("bulk transfer: sent {sent} bytes, received {received}");
        }
        Ok(sent)
    })
}

#[cfg(test)]
mod tests {
    use super::complete_response_length;

    #[test]
    fn a_response_is_complete_once_its_body_is_in() {
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1";
        assert_eq!(complete_response_length(&response[..30]).unwrap(), None);
        assert_eq!(complete_response_length(response).unwrap(), Some(41));
        assert!(complete_response_length(b"SSH-2.0\r\n\r\n").is_err());
    }
}
