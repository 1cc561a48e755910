//! A process's name and unit: `/proc/PID/comm` and the systemd unit or container its
//! `/proc/PID/cgroup` path names.

use super::Owner;

/// `None` when the process is gone.
pub(super) fn read_owner(pid: u32) -> Option<Owner> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let unit = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .ok()
        .and_then(|c| cgroup_path(&c).and_then(unit_from_cgroup));
    Some(Owner {
        pid: Some(pid),
        comm: comm.trim_end_matches('\n').to_owned(),
        unit,
    })
}

/// The process's cgroup path: cgroup v2's `0::` line, else v1's `name=systemd` hierarchy.
fn cgroup_path(content: &str) -> Option<&str> {
    let mut systemd = None;
    for line in content.lines() {
        if let Some(path) = line.strip_prefix("0::") {
            return Some(path);
        }
        let mut fields = line.splitn(3, ':');
        if let (Some(_), Some("name=systemd"), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        {
            systemd = Some(path);
        }
    }
    systemd
}

/// Container scopes by the prefix their runtime gives them.
const RUNTIMES: [(&str, &str); 4] = [
    ("docker-", "docker"),
    ("libpod-", "podman"),
    ("cri-containerd-", "containerd"),
    ("crio-", "crio"),
];

/// The unit or container a cgroup path names: the innermost `.service` or `.scope`, a
/// container's scope as `runtime:<12 hex>` (`docker-<id>.scope` → `docker:<id>`, `libpod-` →
/// `podman:`, `cri-containerd-` → `containerd:`, `crio-` → `crio:`; the cgroupfs driver's bare
/// `/docker/<id>` too), `None` for the root and for bare slices.
pub fn unit_from_cgroup(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for (i, part) in parts.iter().enumerate().rev() {
        if let Some(scope) = part.strip_suffix(".scope") {
            for (prefix, runtime) in RUNTIMES {
                if let Some(id) = scope.strip_prefix(prefix)
                    && is_container_id(id)
                {
                    return Some(format!("{runtime}:{}", &id[..12]));
                }
            }
        }
        if is_container_id(part) {
            let runtime = if i > 0 && parts[i - 1] == "docker" {
                "docker"
            } else {
                "container"
            };
            return Some(format!("{runtime}:{}", &part[..12]));
        }
        if part.ends_with(".service") || part.ends_with(".scope") {
            return Some((*part).to_owned());
        }
        // Anything else (a slice, podman's `container` leaf, a cgroup of the service's own)
        // sits inside the unit that names it: look further up.
    }
    None
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9d0e1f2a3b4c";

    #[test]
    fn units_and_containers_from_cgroup_paths() {
        let cases = [
            (
                "/system.slice/nginx.service",
                Some("nginx.service".to_owned()),
            ),
            (
                &format!("/system.slice/docker-{ID}.scope"),
                Some("docker:3f2a9c1b7d4e".to_owned()),
            ),
            (
                &format!("/machine.slice/libpod-{ID}.scope"),
                Some("podman:3f2a9c1b7d4e".to_owned()),
            ),
            (
                &format!("/machine.slice/libpod-{ID}.scope/container"),
                Some("podman:3f2a9c1b7d4e".to_owned()),
            ),
            (
                &format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/cri-containerd-{ID}.scope"
                ),
                Some("containerd:3f2a9c1b7d4e".to_owned()),
            ),
            (
                &format!("/docker/{ID}"),
                Some("docker:3f2a9c1b7d4e".to_owned()),
            ),
            (
                "/user.slice/user-1000.slice/session-3.scope",
                Some("session-3.scope".to_owned()),
            ),
            (
                "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
                Some("foo.service".to_owned()),
            ),
            (
                "/system.slice/nginx.service/worker",
                Some("nginx.service".to_owned()),
            ),
            ("/init.scope", Some("init.scope".to_owned())),
            ("/user.slice", None),
            ("/", None),
            ("", None),
        ];
        for (path, want) in cases {
            assert_eq!(unit_from_cgroup(path), want, "{path}");
        }
    }

    #[test]
    fn cgroup_path_prefers_v2_then_systemd_v1() {
        assert_eq!(
            cgroup_path("0::/system.slice/a.service\n"),
            Some("/system.slice/a.service")
        );
        assert_eq!(
            cgroup_path("12:cpu,cpuacct:/x\n1:name=systemd:/system.slice/b.service\n"),
            Some("/system.slice/b.service")
        );
        assert_eq!(cgroup_path("0::/\n"), Some("/"));
        assert_eq!(cgroup_path(""), None);
    }
}
