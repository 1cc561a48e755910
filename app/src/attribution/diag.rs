//! Socket lookups over netlink sock_diag (INET_DIAG): exact `SOCK_DIAG_BY_FAMILY` requests by
//! socket id, batched many to a `send`, and the dump of the TCP LISTEN sockets.
//!
//! An exact request is answered inside the `send` (the kernel runs sock_diag in the sender's
//! context), one reply per request: the socket, or an `NLMSG_ERROR` (`ENOENT` when there is no
//! such socket). So a batch is one `send` and then non-blocking `recv`s until every sequence
//! number has its reply; a reply that is not there is a lookup that failed, never a wait.

use std::{
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    os::fd::AsRawFd,
};

use netlink_packet_core::{
    ErrorBuffer, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, NetlinkHeader,
    NetlinkMessage, Parseable,
};
use netlink_packet_sock_diag::{
    AF_INET, AF_INET6, IPPROTO_TCP, SOCK_DIAG_BY_FAMILY, SockDiagMessage,
    inet::{ExtensionFlags, InetRequest, InetResponseHeader, SocketId, StateFlags},
};
use netlink_sys::{Socket, SocketAddr as NetlinkAddr, protocols::NETLINK_SOCK_DIAG};

/// `TCP_LISTEN` in the kernel's `tcp_states.h`.
pub(super) const TCP_LISTEN: u8 = 10;
/// Requests per `send`: their replies must fit the socket's receive buffer at once (each reply
/// skb costs about a kilobyte of it; the default buffer is 208 KiB).
const CHUNK: usize = 64;
/// `INET_DIAG_NOCOOKIE`: look the socket up by its addresses alone.
const NO_COOKIE: [u8; 8] = [0xff; 8];
/// Room for one exact reply (a few hundred bytes) in the receive buffer; `CHUNK` of them are
/// received by one `recvmmsg`.
const SLOT: usize = 2048;
/// The largest datagram a dump sends is 32 KiB.
const RX_LEN: usize = CHUNK * SLOT;

/// What sock_diag says about one socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DiagSocket {
    /// 0 for a socket no file holds: TIME_WAIT, a request socket, one still in the accept
    /// queue, one already closed by its process.
    pub inode: u64,
    pub state: u8,
    pub uid: u32,
}

impl DiagSocket {
    /// A connection's own socket that some process holds. An exact lookup of a connection that
    /// is gone falls back to the listener on its local port: that is not the connection.
    pub fn is_held_connection(&self) -> bool {
        self.inode != 0 && self.state != TCP_LISTEN
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reply {
    Found(DiagSocket),
    /// `ENOENT`: no such socket.
    Missing,
    /// No reply, or another error.
    Failed,
}

/// One exact lookup: the socket whose local end is `local` and remote end `remote`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Query {
    pub family: u8,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

impl Query {
    /// The natural family of the addresses (AF_INET for V4).
    pub fn new(local: SocketAddr, remote: SocketAddr) -> Query {
        let family = if local.is_ipv4() { AF_INET } else { AF_INET6 };
        Query {
            family,
            local,
            remote,
        }
    }

    /// The same V4 connection as a dual-stack AF_INET6 socket holds it (`::ffff:a.b.c.d`).
    pub fn mapped(&self) -> Option<Query> {
        let map = |a: SocketAddr| match a.ip() {
            IpAddr::V4(v4) => Some(SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), a.port())),
            IpAddr::V6(_) => None,
        };
        Some(Query {
            family: AF_INET6,
            local: map(self.local)?,
            remote: map(self.remote)?,
        })
    }
}

/// A LISTEN socket from the dump, its address canonical (V4-mapped shown as V4).
#[derive(Clone, Copy, Debug)]
pub(super) struct Listening {
    pub addr: IpAddr,
    pub port: u16,
    pub inode: u64,
    pub uid: u32,
}

pub(super) struct Diag {
    socket: Socket,
    tx: Vec<u8>,
    rx: Vec<u8>,
    seq: u32,
    /// Errors other than ENOENT, and replies that never came.
    pub errors: u64,
}

impl Diag {
    pub fn new() -> io::Result<Diag> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        socket.connect(&NetlinkAddr::new(0, 0))?;
        // NACKs without a copy of the request: smaller replies.
        let _ = socket.set_cap_ack(true);
        // A dump's next part is made while we read the last one; bound a read all the same.
        let timeout = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        // SAFETY: a valid fd and a `timeval` of the size given.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const timeout).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Diag {
            socket,
            tx: Vec::with_capacity(CHUNK * 80),
            rx: vec![0; RX_LEN],
            seq: 1,
            errors: 0,
        })
    }

    /// One reply per query, in order.
    pub fn lookup(&mut self, queries: &[Query], replies: &mut Vec<Reply>) {
        replies.clear();
        replies.resize(queries.len(), Reply::Failed);
        for (c, chunk) in queries.chunks(CHUNK).enumerate() {
            let out = &mut replies[c * CHUNK..c * CHUNK + chunk.len()];
            self.lookup_chunk(chunk, out);
        }
    }

    fn lookup_chunk(&mut self, chunk: &[Query], out: &mut [Reply]) {
        let base = self.seq;
        self.seq = self.seq.wrapping_add(chunk.len() as u32);
        self.tx.clear();
        for (i, q) in chunk.iter().enumerate() {
            let id = socket_id(q.local, q.remote);
            let msg = request(
                q.family,
                StateFlags::all(),
                id,
                NLM_F_REQUEST,
                base.wrapping_add(i as u32),
            );
            let start = self.tx.len();
            self.tx.resize(start + msg.buffer_len(), 0);
            msg.serialize(&mut self.tx[start..]);
        }
        if let Err(e) = self.socket.send(&self.tx, 0) {
            log::debug!("sock_diag send: {e}");
            self.errors += chunk.len() as u64;
            return;
        }
        let mut answered = [false; CHUNK];
        let mut pending = chunk.len();
        while pending > 0 {
            let lens = match self.recv_many(pending) {
                Ok(lens) => lens,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => continue,
                Err(e) => {
                    if e.kind() != io::ErrorKind::WouldBlock {
                        log::debug!("sock_diag recv: {e}");
                    }
                    break;
                }
            };
            for (k, &len) in lens.iter().enumerate() {
                for (seq, payload) in messages(&self.rx[k * SLOT..k * SLOT + len]) {
                    let i = seq.wrapping_sub(base) as usize;
                    if i >= chunk.len() || answered[i] {
                        continue;
                    }
                    answered[i] = true;
                    pending -= 1;
                    out[i] = match payload {
                        Msg::Response(h) => Reply::Found(DiagSocket {
                            inode: u64::from(h.inode),
                            state: h.state,
                            uid: h.uid,
                        }),
                        Msg::Error(code) if code == -libc::ENOENT => Reply::Missing,
                        _ => Reply::Failed,
                    };
                }
            }
        }
        self.errors += out.iter().filter(|r| **r == Reply::Failed).count() as u64;
    }

    /// Up to `n` (≤ `CHUNK`) queued replies in one `recvmmsg`, the k-th at `k * SLOT` in `rx`;
    /// their lengths. Never waits.
    fn recv_many(&mut self, n: usize) -> io::Result<Vec<usize>> {
        let n = n.min(CHUNK);
        // SAFETY: all-zero `iovec`s and `mmsghdr`s are valid (null pointers, zero lengths).
        let mut iov: [libc::iovec; CHUNK] = unsafe { std::mem::zeroed() };
        let mut hdr: [libc::mmsghdr; CHUNK] = unsafe { std::mem::zeroed() };
        for (k, (iov, hdr)) in iov.iter_mut().zip(hdr.iter_mut()).take(n).enumerate() {
            iov.iov_base = self.rx[k * SLOT..].as_mut_ptr().cast();
            iov.iov_len = SLOT;
            hdr.msg_hdr.msg_iov = iov;
            hdr.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: `n` headers, each pointing at its own `SLOT` bytes of `rx`, all outliving the
        // call.
        let got = unsafe {
            libc::recvmmsg(
                self.socket.as_raw_fd(),
                hdr.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        let got = usize::try_from(got).map_err(|_| io::Error::last_os_error())?;
        Ok(hdr[..got]
            .iter()
            .map(|h| (h.msg_len as usize).min(SLOT))
            .collect())
    }

    /// Every TCP LISTEN socket of the namespace, both families.
    pub fn listeners(&mut self, out: &mut Vec<Listening>) -> io::Result<()> {
        out.clear();
        self.drain();
        for (family, id) in [
            (AF_INET, SocketId::new_v4()),
            (AF_INET6, SocketId::new_v6()),
        ] {
            let seq = self.seq;
            self.seq = self.seq.wrapping_add(1);
            let msg = request(
                family,
                StateFlags::LISTEN,
                id,
                NLM_F_REQUEST | NLM_F_DUMP,
                seq,
            );
            self.tx.clear();
            self.tx.resize(msg.buffer_len(), 0);
            msg.serialize(&mut self.tx);
            self.socket.send(&self.tx, 0)?;
            'dump: loop {
                let n = self
                    .socket
                    .recv(&mut &mut self.rx[..], 0)?
                    .min(self.rx.len());
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                for (s, payload) in messages(&self.rx[..n]) {
                    if s != seq {
                        continue;
                    }
                    match payload {
                        Msg::Response(h) => out.push(Listening {
                            addr: h.socket_id.source_address.to_canonical(),
                            port: h.socket_id.source_port,
                            inode: u64::from(h.inode),
                            uid: h.uid,
                        }),
                        Msg::Done => break 'dump,
                        Msg::Error(code) => return Err(io::Error::from_raw_os_error(-code)),
                        Msg::Other => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Whatever an interrupted exchange left queued.
    fn drain(&mut self) {
        while self
            .socket
            .recv(&mut &mut self.rx[..], libc::MSG_DONTWAIT)
            .is_ok()
        {}
    }
}

fn request(
    family: u8,
    states: StateFlags,
    socket_id: SocketId,
    flags: u16,
    seq: u32,
) -> NetlinkMessage<SockDiagMessage> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states,
            socket_id,
        })
        .into(),
    );
    msg.finalize();
    msg
}

/// sock_diag's socket id: `source` is the socket's local end.
fn socket_id(local: SocketAddr, remote: SocketAddr) -> SocketId {
    SocketId {
        source_port: local.port(),
        destination_port: remote.port(),
        source_address: local.ip(),
        destination_address: remote.ip(),
        interface_id: 0,
        cookie: NO_COOKIE,
    }
}

/// One reply message, as far as attribution reads it: the fixed header of a socket (the
/// attributes after it are not parsed), an error code, the end of a dump.
enum Msg {
    Response(InetResponseHeader),
    Error(i32),
    Done,
    Other,
}

/// The messages of one datagram, each with its sequence number.
fn messages(mut buf: &[u8]) -> impl Iterator<Item = (u32, Msg)> + '_ {
    std::iter::from_fn(move || {
        let nl = NetlinkBuffer::new_checked(buf).ok()?;
        let len = nl.length() as usize;
        let seq = nl.sequence_number();
        let payload = nl.payload();
        let msg = match nl.message_type() {
            SOCK_DIAG_BY_FAMILY => {
                InetResponseHeader::parse(payload).map_or(Msg::Other, Msg::Response)
            }
            NLMSG_ERROR => match ErrorBuffer::new_checked(payload) {
                Ok(e) => Msg::Error(e.code().map_or(0, |c| c.get())),
                Err(_) => Msg::Other,
            },
            NLMSG_DONE => Msg::Done,
            _ => Msg::Other,
        };
        // Messages in a datagram are 4-byte aligned.
        buf = buf.get(len.next_multiple_of(4)..).unwrap_or_default();
        Some((seq, msg))
    })
}

/// The unspecified address of `ip`'s family: the wildcard a listener binds.
pub(super) fn unspecified(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}
