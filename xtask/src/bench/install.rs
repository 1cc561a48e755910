//! Installs the Debian packages the bench runs (nginx, wrk, tcpdump, tshark, bpftool, tmux,
//! iproute2) when a program is missing, without letting nginx's system service start.

use std::{fs, os::unix::fs::PermissionsExt as _, path::Path, process::Command};

use anyhow::{Context as _, Result};

use crate::tasks::{Project, run_checked};

/// (program, Debian package that ships it)
const PROGRAMS: &[(&str, &str)] = &[
    ("nginx", "nginx"),
    ("wrk", "wrk"),
    ("tcpdump", "tcpdump"),
    ("tshark", "tshark"),
    ("bpftool", "bpftool"),
    ("tmux", "tmux"),
    ("ip", "iproute2"),
];

const POLICY_RC: &str = "/usr/sbin/policy-rc.d";

pub fn ensure_programs(project: &Project) -> Result<()> {
    let mut missing: Vec<&str> = PROGRAMS
        .iter()
        .filter(|(program, _)| find(project, program).is_none())
        .map(|&(_, package)| package)
        .collect();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask bench: installing {}", missing.join(" "));
    // tshark's package asks whether non-root users may capture: answer before it asks.
    let mut preseed = Command::new("debconf-set-selections");
    preseed.stdin(std::process::Stdio::piped());
    let mut child = preseed.spawn().context("running debconf-set-selections")?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        stdin.write_all(b"wireshark-common wireshark-common/install-setuid boolean false\n")?;
    }
    child.wait()?;

    // Package scripts must not start nginx's system service (it would take port 80).
    let _policy = ServiceStartBlock::install()?;
    run_checked(Command::new("apt-get").args(["update", "-q"]))?;
    run_checked(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing),
    )?;
    for (program, package) in PROGRAMS {
        find(project, program).with_context(|| {
            format!("{program} is still missing after installing the package {package}")
        })?;
    }
    Ok(())
}

fn find(project: &Project, program: &str) -> Option<std::path::PathBuf> {
    project.find_program(program).or_else(|| {
        ["/usr/sbin", "/sbin"]
            .iter()
            .map(|dir| Path::new(dir).join(program))
            .find(|p| p.is_file())
    })
}

/// `/usr/sbin/policy-rc.d` answering "no" to every service start, removed on drop if this
/// bench wrote it (one already there is left alone).
struct ServiceStartBlock {
    written: bool,
}

impl ServiceStartBlock {
    fn install() -> Result<Self> {
        if Path::new(POLICY_RC).exists() {
            return Ok(Self { written: false });
        }
        fs::write(POLICY_RC, "#!/bin/sh\nexit 101\n").context("writing policy-rc.d")?;
        fs::set_permissions(POLICY_RC, fs::Permissions::from_mode(0o755))?;
        Ok(Self { written: true })
    }
}

impl Drop for ServiceStartBlock {
    fn drop(&mut self) {
        if self.written {
            let _ = fs::remove_file(POLICY_RC);
        }
    }
}
