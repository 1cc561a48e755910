//! Other network namespaces (`--netns`): opening one by its `ip netns` name or a path, running
//! work inside it, and listing the named ones.
//!
//! A socket belongs to the namespace its creating thread was in, for life. So the packet
//! sockets, the tc links and the sock_diag socket of a namespace are made by a short-lived
//! thread that enters it ([`Netns::within`]) and are then used from anywhere; this process
//! itself never leaves its own namespace.

use std::{
    fmt, fs, io,
    os::fd::{AsRawFd as _, OwnedFd},
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
    sync::Arc,
};

/// Where `ip netns add` puts its namespaces (`/var/run/netns` is a link to it on current
/// systems).
pub const NAMED_DIR: &str = "/run/netns";

/// A namespace's identity: the device and inode of its nsfs file, the same through any path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetnsIdentity {
    dev: u64,
    ino: u64,
}

impl NetnsIdentity {
    fn of(file: &fs::File) -> io::Result<NetnsIdentity> {
        let meta = file.metadata()?;
        Ok(NetnsIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// The namespace this thread is in.
    pub fn current() -> io::Result<NetnsIdentity> {
        NetnsIdentity::of(&fs::File::open("/proc/thread-self/ns/net")?)
    }

    pub fn inode(self) -> u64 {
        self.ino
    }
}

/// An open network namespace, kept alive while held.
#[derive(Debug)]
pub struct Netns {
    /// What the user named it by, or its `ip netns` name: shown in every row from it.
    pub name: String,
    pub identity: NetnsIdentity,
    file: OwnedFd,
}

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("--netns {spec}: no such network namespace ({path})")]
    Missing { spec: String, path: PathBuf },
    #[error("--netns {spec}: {path} is not a network namespace")]
    NotNetns { spec: String, path: PathBuf },
    #[error("--netns {spec}: {source}")]
    Open {
        spec: String,
        #[source]
        source: io::Error,
    },
    #[error("--netns needs CAP_SYS_ADMIN (entering a namespace), which this process lacks")]
    NoSysAdmin,
    #[error("entering network namespace {name}: {source}")]
    Enter {
        name: String,
        #[source]
        source: io::Error,
    },
}

impl Netns {
    /// `NAME` (a file of [`NAMED_DIR`]) or a path (`/proc/PID/ns/net`, any nsfs file).
    pub fn open(spec: &str) -> Result<Netns, NetnsError> {
        let (path, name) = if spec.contains('/') {
            (PathBuf::from(spec), spec.to_owned())
        } else {
            (Path::new(NAMED_DIR).join(spec), spec.to_owned())
        };
        let file = fs::File::open(&path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => NetnsError::Missing {
                spec: spec.to_owned(),
                path: path.clone(),
            },
            _ => NetnsError::Open {
                spec: spec.to_owned(),
                source,
            },
        })?;
        let not_netns = || NetnsError::NotNetns {
            spec: spec.to_owned(),
            path: path.clone(),
        };
        // SAFETY: an ioctl on an fd this function owns; NS_GET_NSTYPE takes no argument.
        let kind = unsafe { libc::ioctl(file.as_raw_fd(), NS_GET_NSTYPE) };
        if kind != libc::CLONE_NEWNET {
            return Err(not_netns());
        }
        let identity = NetnsIdentity::of(&file).map_err(|source| NetnsError::Open {
            spec: spec.to_owned(),
            source,
        })?;
        Ok(Netns {
            name,
            identity,
            file: file.into(),
        })
    }

    /// Runs `work` on a thread inside this namespace and returns what it returns. The thread
    /// ends with `work`; what it made (sockets) stays in this namespace.
    pub fn within<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    // SAFETY: setns on an fd held by `self` for the call's length; it changes
                    // this thread's namespace only (the thread is new and ends below).
                    if unsafe { libc::setns(self.file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                        return Err(NetnsError::Enter {
                            name: self.name.clone(),
                            source: io::Error::last_os_error(),
                        });
                    }
                    Ok(work())
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl fmt::Display for Netns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// `NS_GET_NSTYPE` (linux/nsfs.h): `_IO(0xb7, 0x3)`.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// The names in [`NAMED_DIR`], sorted; none when it does not exist.
pub fn named() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(NAMED_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// What the namespace httptop runs in is called: its `ip netns` name when it has one,
/// `host` when it is init's, else `net:[INODE]` as `/proc/PID/ns/net` links read.
pub fn own_name() -> String {
    let Ok(own) = NetnsIdentity::current() else {
        return "host".to_owned();
    };
    let named = named().into_iter().find(|name| {
        fs::File::open(Path::new(NAMED_DIR).join(name))
            .and_then(|f| NetnsIdentity::of(&f))
            .is_ok_and(|id| id == own)
    });
    if let Some(name) = named {
        return name;
    }
    let init = fs::File::open("/proc/1/ns/net").and_then(|f| NetnsIdentity::of(&f));
    match init {
        Ok(init) if init == own => "host".to_owned(),
        // Another pid namespace's init, or unreadable: the inode is unambiguous.
        _ => format!("net:[{}]", own.inode()),
    }
}

/// Whether this process may enter other namespaces.
pub fn can_enter() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    crate::kernel::effective_capabilities() & (1u64 << CAP_SYS_ADMIN) != 0
}

/// A namespace shared by what watches it (the kernel side and the attributor).
pub type SharedNetns = Arc<Netns>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_name_and_a_file_that_is_no_namespace_are_one_line_errors() {
        let missing = Netns::open("httptop-no-such-namespace").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "--netns httptop-no-such-namespace: no such network namespace \
             (/run/netns/httptop-no-such-namespace)"
        );
        let not_netns = Netns::open("/proc/self/status").unwrap_err();
        assert_eq!(
            not_netns.to_string(),
            "--netns /proc/self/status: /proc/self/status is not a network namespace"
        );
    }

    #[test]
    fn this_process_namespace_opened_by_path_is_the_one_it_is_in() {
        let own = Netns::open("/proc/self/ns/net").unwrap();
        assert_eq!(own.identity, NetnsIdentity::current().unwrap());
        // A thread inside it sees the same namespace (needs CAP_SYS_ADMIN even for one's own).
        if can_enter() {
            let inside = own.within(NetnsIdentity::current).unwrap().unwrap();
            assert_eq!(inside, own.identity);
        }
    }
}
