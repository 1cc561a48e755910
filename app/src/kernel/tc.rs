//! `--attach tc`: the classifier on each interface's tc hooks. On kernels with TCX (6.6 on)
//! each hook is a link owned by this process, gone with it even after SIGKILL; on older ones
//! the filters go through netlink on a clsact qdisc, and [`Hook`]'s drop removes the filters
//! and the qdisc if this process added it (only then).

use std::{io, mem, os::fd::AsRawFd as _};

use aya::{
    programs::{
        SchedClassifier, TcAttachType,
        tc::{self, SchedClassifierLink, TcError},
    },
    util::KernelVersion,
};

use super::{KernelError, program_err};

/// Which hooks of an interface the classifier takes. Every packet on `lo` enters through
/// ingress once (its egress would see each one a second time); elsewhere a packet crosses one
/// hook or the other.
fn hooks_of(loopback: bool) -> &'static [TcAttachType] {
    if loopback {
        &[TcAttachType::Ingress]
    } else {
        &[TcAttachType::Ingress, TcAttachType::Egress]
    }
}

/// One interface's hooks. Dropping it detaches them (links first, then the qdisc).
pub(super) struct Hook {
    _links: Vec<SchedClassifierLink>,
    _clsact: Option<ClsactQdisc>,
}

/// Whether the interface frames packets with an Ethernet header (the classifier reads the
/// network header at offset 14; `lo` has one too). Others (tun, WireGuard) are left to
/// `--attach socket`.
pub(super) fn ethernet_framed(name: &str) -> bool {
    // SAFETY: plain syscalls on a fresh socket closed below; ifreq is plain data.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return false;
        }
        let mut req: libc::ifreq = mem::zeroed();
        for (dst, src) in req
            .ifr_name
            .iter_mut()
            .zip(name.bytes().take(libc::IF_NAMESIZE - 1))
        {
            *dst = src as libc::c_char;
        }
        let rc = libc::ioctl(fd, libc::SIOCGIFHWADDR, &mut req);
        libc::close(fd);
        rc == 0
            && matches!(
                req.ifr_ifru.ifru_hwaddr.sa_family,
                libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK
            )
    }
}

/// Attaches `program` (`program_name`) to the hooks of interface `name`.
pub(super) fn attach(
    program: &mut SchedClassifier,
    program_name: &'static str,
    name: &str,
    loopback: bool,
) -> Result<Hook, KernelError> {
    // Without TCX the hooks hang off a clsact qdisc, added here unless one is there already.
    // aya's own test for TCX, which its `attach` makes the same way.
    let tcx = KernelVersion::current().is_ok_and(|v| v >= KernelVersion::new(6, 6, 0));
    let clsact = if tcx { None } else { ClsactQdisc::add(name)? };
    let mut links = Vec::new();
    for &hook in hooks_of(loopback) {
        let id = program
            .attach(name, hook)
            .map_err(program_err(program_name, "attaching"))?;
        links.push(
            program
                .take_link(id)
                .map_err(program_err(program_name, "taking the link of"))?,
        );
    }
    Ok(Hook {
        _links: links,
        _clsact: clsact,
    })
}

/// A clsact qdisc this process added; dropping it deletes it (and every filter on it).
struct ClsactQdisc {
    ifindex: u32,
}

impl ClsactQdisc {
    /// Adds the qdisc; `None` when the interface has one already (not ours to remove).
    fn add(name: &str) -> Result<Option<ClsactQdisc>, KernelError> {
        match tc::qdisc_add_clsact(name) {
            Ok(()) => Ok(Some(ClsactQdisc {
                ifindex: super::ifindex(name)?,
            })),
            Err(TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => Ok(None),
            Err(e) => Err(KernelError::Io {
                context: format!("adding a clsact qdisc to {name}"),
                source: io::Error::other(e),
            }),
        }
    }
}

impl Drop for ClsactQdisc {
    fn drop(&mut self) {
        if let Err(e) = delete_clsact(self.ifindex) {
            log::warn!(
                "removing the clsact qdisc of interface {}: {e}",
                self.ifindex
            );
        }
    }
}

/// `tc qdisc del dev IFACE clsact` through rtnetlink (aya adds qdiscs but does not remove them).
fn delete_clsact(ifindex: u32) -> io::Result<()> {
    const TC_H_CLSACT: u32 = 0xFFFF_FFF1;
    const TC_H_INGRESS_HANDLE: u32 = 0xFFFF_0000;
    #[repr(C)]
    struct TcMsg {
        family: u8,
        _pad: [u8; 3],
        ifindex: i32,
        handle: u32,
        parent: u32,
        info: u32,
    }
    #[repr(C)]
    struct Request {
        header: libc::nlmsghdr,
        tc: TcMsg,
    }
    let request = Request {
        header: libc::nlmsghdr {
            nlmsg_len: mem::size_of::<Request>() as u32,
            nlmsg_type: libc::RTM_DELQDISC,
            nlmsg_flags: (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16,
            nlmsg_seq: 1,
            nlmsg_pid: 0,
        },
        tc: TcMsg {
            family: libc::AF_UNSPEC as u8,
            _pad: [0; 3],
            ifindex: ifindex as i32,
            handle: TC_H_INGRESS_HANDLE,
            parent: TC_H_CLSACT,
            info: 0,
        },
    };
    // SAFETY: plain syscalls on a socket owned right away; the buffers outlive the calls.
    unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let socket = <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd);
        let sent = libc::send(
            socket.as_raw_fd(),
            (&raw const request).cast(),
            mem::size_of::<Request>(),
            0,
        );
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        // The acknowledgement: an NLMSG_ERROR whose code is 0 on success.
        let mut reply = [0u8; 256];
        let n = libc::recv(
            socket.as_raw_fd(),
            reply.as_mut_ptr().cast(),
            reply.len(),
            0,
        );
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let header_len = mem::size_of::<libc::nlmsghdr>();
        if (n as usize) < header_len + 4 {
            return Err(io::Error::other("short netlink reply"));
        }
        let code = i32::from_ne_bytes(
            reply[header_len..header_len + 4]
                .try_into()
                .unwrap_or_default(),
        );
        match code {
            0 => Ok(()),
            code => Err(io::Error::from_raw_os_error(-code)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::hooks_of;
    use aya::programs::TcAttachType;

    #[test]
    fn loopback_takes_ingress_only_and_other_interfaces_both_hooks() {
        assert!(matches!(hooks_of(true), [TcAttachType::Ingress]));
        assert!(matches!(
            hooks_of(false),
            [TcAttachType::Ingress, TcAttachType::Egress]
        ));
    }
}

#[cfg(test)]
mod root_tests {
    use std::process::Command;

    use super::ClsactQdisc;

    /// `tc qdisc show dev lo` in the calling thread's network namespace.
    fn qdiscs_of_lo() -> String {
        let output = Command::new("tc")
            .args(["qdisc", "show", "dev", "lo"])
            .output()
            .expect("running tc");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The pre-TCX path's guard, in a network namespace of the test thread's own: it removes
    /// the clsact qdisc it added, and leaves alone one that was there before it.
    #[test]
    #[ignore = "needs root"]
    fn clsact_guard_removes_only_the_qdisc_it_added() {
        std::thread::spawn(|| {
            // SAFETY: plain syscall; it moves only this thread into a fresh network namespace.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare");
            assert!(!qdiscs_of_lo().contains("clsact"));
            let ours = ClsactQdisc::add("lo").expect("adding clsact");
            assert!(ours.is_some(), "lo had no clsact: this guard added it");
            assert!(qdiscs_of_lo().contains("clsact"));
            // One there already: not ours, so nothing to remove.
            let found = ClsactQdisc::add("lo").expect("adding clsact again");
            assert!(found.is_none());
            drop(found);
            assert!(qdiscs_of_lo().contains("clsact"));
            drop(ours);
            assert!(!qdiscs_of_lo().contains("clsact"), "{}", qdiscs_of_lo());
        })
        .join()
        .expect("the test thread");
    }
}
