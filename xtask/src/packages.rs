//! The system programs the root tests and the bench run, each with the Debian package that ships
//! it, and their installation. Present programs are found by a PATH lookup, so a machine that has
//! them all pays a few `stat` calls; a missing one is installed through apt-get as root, without
//! questions and without letting any package start its service.

use std::{
    fs,
    io::Write as _,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context as _, Result, bail};

use crate::project::{Project, is_executable, is_root, run_checked};

/// The task a program is needed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The root/netns tests of `cargo xtask test` (and what `cargo xtask setup` prepares).
    Test,
    /// `cargo xtask bench`.
    Bench,
}

impl Purpose {
    /// The task and its verb, to start a sentence with.
    fn needs(self) -> &'static str {
        match self {
            Self::Test => "the root tests need",
            Self::Bench => "the bench needs",
        }
    }

    fn task(self) -> &'static str {
        match self {
            Self::Test => "the root tests",
            Self::Bench => "the bench",
        }
    }
}

/// A program some task runs, and the Debian package that ships it.
struct Program {
    /// Looked up on the PATH; a name that starts with `/` is a file that must exist instead (a
    /// library a program of the tests imports).
    name: &'static str,
    package: &'static str,
    used_by: &'static [Purpose],
}

const TEST_AND_BENCH: &[Purpose] = &[Purpose::Test, Purpose::Bench];
const TEST: &[Purpose] = &[Purpose::Test];
const BENCH: &[Purpose] = &[Purpose::Bench];

/// Every system program a task runs; nothing else lists them.
const PROGRAMS: &[Program] = &[
    Program {
        name: "ip",
        package: "iproute2",
        used_by: TEST_AND_BENCH,
    },
    Program {
        name: "nginx",
        package: "nginx",
        used_by: TEST_AND_BENCH,
    },
    Program {
        name: "tshark",
        package: "tshark",
        used_by: TEST_AND_BENCH,
    },
    Program {
        name: "tmux",
        package: "tmux",
        used_by: TEST_AND_BENCH,
    },
    Program {
        name: "curl",
        package: "curl",
        used_by: TEST,
    },
    Program {
        name: "python3",
        package: "python3",
        used_by: TEST,
    },
    Program {
        name: "wrk",
        package: "wrk",
        used_by: BENCH,
    },
    Program {
        name: "tcpdump",
        package: "tcpdump",
        used_by: BENCH,
    },
    // The WebSocket root test runs a server and a client of the `websockets` library.
    Program {
        name: "/usr/lib/python3/dist-packages/websockets/__init__.py",
        package: "python3-websockets",
        used_by: TEST,
    },
    // The root tests look for what a killed httptop left loaded, and the bench reads map sizes.
    Program {
        name: "bpftool",
        package: "bpftool",
        used_by: TEST_AND_BENCH,
    },
    // The root test that runs httptop with three capabilities and no root grants them with it.
    Program {
        name: "setcap",
        package: "libcap2-bin",
        used_by: TEST,
    },
    // The root test with more connections than the table holds widens the namespace's ports.
    Program {
        name: "sysctl",
        package: "procps",
        used_by: TEST,
    },
    // The `/metrics` root tests and the bench scrape httptop with a real Prometheus server.
    Program {
        name: "prometheus",
        package: "prometheus",
        used_by: TEST_AND_BENCH,
    },
    // The `/metrics` root tests check httptop's exposition text with `promtool check metrics`.
    Program {
        name: "promtool",
        package: "prometheus",
        used_by: TEST,
    },
    // The `/metrics` root tests pick fields out of Prometheus's JSON query answers.
    Program {
        name: "jq",
        package: "jq",
        used_by: TEST,
    },
];

/// Package scripts ask this program whether they may start a service; 101 means no.
const POLICY_RC: &str = "/usr/sbin/policy-rc.d";

/// tshark's package otherwise asks whether users outside the wireshark group may capture.
const DEBCONF_PRESEED: &str = "wireshark-common wireshark-common/install-setuid boolean false\n";

const APT_INSTALL: &str = "apt-get install -y --no-install-recommends";

/// Installs the packages of the programs `purpose` needs that are not found; nothing when all are.
pub fn ensure(project: &Project, purpose: Purpose) -> Result<()> {
    let lookup = |program: &str| installed(project, program);
    let missing = missing_packages(purpose, lookup);
    if missing.is_empty() {
        return Ok(());
    }
    if find_system_program(project, "apt-get").is_none() {
        bail!("{}", cannot_install(purpose, &missing, Blocker::NoAptGet));
    }
    if !is_root() {
        bail!("{}", cannot_install(purpose, &missing, Blocker::NotRoot));
    }
    eprintln!(
        "xtask setup: installing {} for {}",
        missing.join(" "),
        purpose.task()
    );
    install(&missing)?;
    let still_missing = missing_packages(purpose, lookup);
    if !still_missing.is_empty() {
        bail!(
            "apt-get installed {} but {} still cannot be found (on the PATH, or where named)",
            missing.join(" "),
            still_missing.join(" ")
        );
    }
    Ok(())
}

/// The Debian packages `purpose` needs, each once, in the list's order.
pub fn packages_for(purpose: Purpose) -> Vec<&'static str> {
    missing_packages(purpose, |_| false)
}

/// The packages (once each, in list order) of `purpose`'s programs that `is_installed` does not find.
fn missing_packages(purpose: Purpose, is_installed: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let mut missing = Vec::new();
    for program in PROGRAMS {
        if program.used_by.contains(&purpose)
            && !is_installed(program.name)
            && !missing.contains(&program.package)
        {
            missing.push(program.package);
        }
    }
    missing
}

/// Why missing packages cannot be installed here.
#[derive(Clone, Copy, Debug)]
enum Blocker {
    NoAptGet,
    NotRoot,
}

/// The one-line reason nothing was installed, with the command that would do it.
fn cannot_install(purpose: Purpose, packages: &[&str], blocker: Blocker) -> String {
    let packages = packages.join(" ");
    let needs = purpose.needs();
    match blocker {
        Blocker::NoAptGet => format!(
            "{needs} programs from the Debian packages {packages}, and this machine has no \
             apt-get to install them: install their equivalents with its package manager \
             (on Debian, as root: `apt-get update && {APT_INSTALL} {packages}`)"
        ),
        Blocker::NotRoot => format!(
            "{needs} the Debian packages {packages}, missing here: install them with \
             `sudo apt-get update && sudo {APT_INSTALL} {packages}`, or run this task as root, \
             which installs them"
        ),
    }
}

/// Like the shell's `command -v`, on the children's PATH and, because a user's PATH often lacks
/// them, in the system directories where nginx and bpftool live.
fn installed(project: &Project, program: &str) -> bool {
    if program.starts_with('/') {
        return Path::new(program).is_file();
    }
    find_system_program(project, program).is_some()
}

fn find_system_program(project: &Project, program: &str) -> Option<PathBuf> {
    project.find_program(program).or_else(|| {
        ["/usr/sbin", "/sbin", "/usr/bin"]
            .iter()
            .map(|dir| Path::new(dir).join(program))
            .find(|candidate| is_executable(candidate))
    })
}

/// apt-get without questions: debconf preseeded, services kept from starting, and the services
/// of [`SERVICES`] stopped should a package script have started them anyway.
fn install(packages: &[&str]) -> Result<()> {
    preseed_debconf()?;
    let block = ServiceStartBlock::install()?;
    let apt_get = |args: &[&str]| {
        let mut command = Command::new("apt-get");
        command
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(args)
            .stdin(Stdio::null());
        command
    };
    run_checked(&mut apt_get(&["update", "-q"]))?;
    run_checked(apt_get(&["install", "-y", "-q", "--no-install-recommends"]).args(packages))?;
    drop(block);
    for service in SERVICES {
        if packages.contains(&service.package) {
            service.stop();
        }
    }
    Ok(())
}

fn preseed_debconf() -> Result<()> {
    let mut child = Command::new("debconf-set-selections")
        .stdin(Stdio::piped())
        .spawn()
        .context("could not start debconf-set-selections")?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(DEBCONF_PRESEED.as_bytes())
        .context("writing to debconf-set-selections")?;
    let status = child.wait().context("waiting for debconf-set-selections")?;
    if !status.success() {
        bail!("debconf-set-selections failed ({status})");
    }
    Ok(())
}

/// `/usr/sbin/policy-rc.d` answering "no" to every service start while it lives; removed on drop
/// only if it was written here (one already there belongs to the machine and stays).
struct ServiceStartBlock {
    written: bool,
}

impl ServiceStartBlock {
    fn install() -> Result<Self> {
        if Path::new(POLICY_RC).exists() {
            return Ok(Self { written: false });
        }
        fs::write(POLICY_RC, "#!/bin/sh\nexit 101\n")
            .with_context(|| format!("writing {POLICY_RC}"))?;
        let block = Self { written: true };
        fs::set_permissions(POLICY_RC, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {POLICY_RC} executable"))?;
        Ok(block)
    }
}

impl Drop for ServiceStartBlock {
    fn drop(&mut self) {
        if self.written {
            let _ = fs::remove_file(POLICY_RC);
        }
    }
}

/// A system service a package of [`PROGRAMS`] ships and may start on install; the lab runs its
/// own instances inside namespaces, and a system one would hold their ports.
struct Service {
    package: &'static str,
    /// The systemd unit, also the init script's name and the daemon's process name.
    name: &'static str,
    /// Where the init script (no systemd) writes the daemon's pid.
    pid_file: &'static str,
}

/// Every service an install stops; nothing else lists them.
const SERVICES: &[Service] = &[
    // It would hold port 80.
    Service {
        package: "nginx",
        name: "nginx",
        pid_file: "/run/nginx.pid",
    },
    // It would hold port 9090 and scrape itself for as long as the machine runs.
    Service {
        package: "prometheus",
        name: "prometheus",
        pid_file: "/run/prometheus/prometheus.pid",
    },
];

impl Service {
    /// Best effort: systemd's unit disabled and stopped first, then a daemon started without
    /// systemd sent SIGTERM through its pid file (if that pid is still this daemon).
    fn stop(&self) {
        if Path::new("/run/systemd/system").is_dir() {
            let _ = Command::new("systemctl")
                .args(["disable", "--now", self.name])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if let Some(pid) = self.running_pid() {
            // SAFETY: plain syscall; the pid was just checked to be this service's daemon.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }

    /// The pid in the pid file, if a process of the daemon's name has it.
    fn running_pid(&self) -> Option<libc::pid_t> {
        let pid = fs::read_to_string(self.pid_file)
            .ok()?
            .trim()
            .parse::<libc::pid_t>()
            .ok()?;
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim_end() == self.name).then_some(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs_for(purpose: Purpose) -> Vec<&'static str> {
        PROGRAMS
            .iter()
            .filter(|program| program.used_by.contains(&purpose))
            .map(|program| program.name)
            .collect()
    }

    #[test]
    fn each_task_lists_the_programs_it_runs() {
        assert_eq!(
            programs_for(Purpose::Test),
            [
                "ip",
                "nginx",
                "tshark",
                "tmux",
                "curl",
                "python3",
                "/usr/lib/python3/dist-packages/websockets/__init__.py",
                "bpftool",
                "setcap",
                "sysctl",
                "prometheus",
                "promtool",
                "jq"
            ]
        );
        assert_eq!(
            programs_for(Purpose::Bench),
            [
                "ip",
                "nginx",
                "tshark",
                "tmux",
                "wrk",
                "tcpdump",
                "bpftool",
                "prometheus"
            ]
        );
    }

    #[test]
    fn every_program_is_listed_once_and_used_by_some_task() {
        for (i, program) in PROGRAMS.iter().enumerate() {
            assert!(
                !program.used_by.is_empty(),
                "{} is used by no task",
                program.name
            );
            assert!(
                PROGRAMS[i + 1..]
                    .iter()
                    .all(|other| other.name != program.name),
                "{} is listed twice",
                program.name
            );
        }
    }

    #[test]
    fn every_service_belongs_to_a_listed_package() {
        for service in SERVICES {
            assert!(
                PROGRAMS
                    .iter()
                    .any(|program| program.package == service.package),
                "{} is no package of a listed program",
                service.package
            );
        }
    }

    #[test]
    fn nothing_is_missing_when_every_program_is_found() {
        assert!(missing_packages(Purpose::Test, |_| true).is_empty());
        assert!(missing_packages(Purpose::Bench, |_| true).is_empty());
    }

    #[test]
    fn missing_programs_name_their_packages_once_and_only_for_their_task() {
        let found = |program: &str| !["ip", "wrk", "python3"].contains(&program);
        assert_eq!(
            missing_packages(Purpose::Test, found),
            ["iproute2", "python3"]
        );
        assert_eq!(missing_packages(Purpose::Bench, found), ["iproute2", "wrk"]);
        assert_eq!(
            missing_packages(Purpose::Test, |_| false),
            [
                "iproute2",
                "nginx",
                "tshark",
                "tmux",
                "curl",
                "python3",
                "python3-websockets",
                "bpftool",
                "libcap2-bin",
                "procps",
                "prometheus",
                "jq"
            ]
        );
    }

    #[test]
    fn not_root_is_one_line_with_the_command_to_run() {
        let message = cannot_install(Purpose::Test, &["nginx", "tshark"], Blocker::NotRoot);
        assert_eq!(
            message,
            "the root tests need the Debian packages nginx tshark, missing here: install them \
             with `sudo apt-get update && sudo apt-get install -y --no-install-recommends nginx \
             tshark`, or run this task as root, which installs them"
        );
    }

    #[test]
    fn no_apt_get_is_one_line_naming_the_packages() {
        let message = cannot_install(Purpose::Bench, &["wrk"], Blocker::NoAptGet);
        assert!(!message.contains('\n'), "{message}");
        assert!(message.starts_with("the bench needs "), "{message}");
        assert!(message.contains("no apt-get"), "{message}");
        assert!(
            message.contains("apt-get update && apt-get install -y --no-install-recommends wrk"),
            "{message}"
        );
    }
}
