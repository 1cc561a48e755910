//! `--attach tc` holds its hooks as TCX links owned by the process: after SIGKILL (no drop, no
//! cleanup) the kernel lists none of them any more.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use httptop_tests::{AttachMode, Httptop, NetNs, Veth};

/// `(link id, attach type)` of each TCX link among the process's open files.
fn tcx_links_of(pid: u32) -> Vec<(u64, String)> {
    let dir = format!("/proc/{pid}/fdinfo");
    let mut links = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {dir}: {e}")) {
        let Ok(text) = std::fs::read_to_string(entry.expect("fdinfo entry").path()) else {
            continue;
        };
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|value| value.trim().to_owned())
        };
        if field("link_type:").as_deref() == Some("tcx") {
            let id = field("link_id:").and_then(|id| id.parse().ok());
            let attach = field("attach_type:").unwrap_or_default();
            links.push((id.expect("a TCX link has an id"), attach));
        }
    }
    links.sort();
    links
}

/// The ids of every BPF link the kernel has.
fn live_link_ids() -> Vec<u64> {
    let output = Command::new("bpftool")
        .args(["-j", "link", "show"])
        .output()
        .expect("running bpftool");
    assert!(output.status.success(), "bpftool link show failed");
    let links: serde_json::Value = serde_json::from_slice(&output.stdout).expect("bpftool's JSON");
    links
        .as_array()
        .expect("a list of links")
        .iter()
        .filter_map(|link| link["id"].as_u64())
        .collect()
}

#[test]
#[ignore = "needs root"]
fn tcx_links_go_away_with_the_killed_process() {
    let server_ns = NetNs::new();
    let client_ns = NetNs::new();
    let _veth = Veth::connect(&server_ns, &client_ns);
    let httptop = Httptop::attach_in(AttachMode::Tc, &server_ns, &[]);
    let links = tcx_links_of(httptop.pid());
    let attach_types: Vec<&str> = links.iter().map(|(_, attach)| attach.as_str()).collect();
    // lo: ingress only; the veth: ingress and egress.
    let mut expected = vec!["46 (ingress)", "46 (ingress)", "47 (egress)"];
    expected.sort();
    let mut found = attach_types.clone();
    found.sort();
    assert_eq!(found, expected, "TCX links of httptop: {links:?}");
    let ids: Vec<u64> = links.iter().map(|(id, _)| *id).collect();
    assert!(ids.iter().all(|id| live_link_ids().contains(id)));
    httptop.kill();
    // Links are released once the last file referring to them closes; give the kernel a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let live = live_link_ids();
        let left: Vec<u64> = ids.iter().copied().filter(|id| live.contains(id)).collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "links {left:?} still listed 5 s after SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
