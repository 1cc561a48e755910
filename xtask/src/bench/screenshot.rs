//! `cargo xtask screenshot [--out DIR] [--no-png]`: the dashboard screenshot in `assets/`,
//! from real traffic in the lab:
//!   dashboard.txt   the busy dashboard at 160x48 as plain text (`tmux capture-pane -p`)
//!   dashboard.ansi  the same screen with its colours as escape sequences (`capture-pane -p -e`)
//!   dashboard.png   dashboard.ansi drawn by `assets/render-screenshot.py` with DejaVu Sans Mono
//!
//! In a network namespace of its own: nginx on 127.0.0.1:8080 and [::1]:8080 (a few paths, one
//! answering 500), python3's http.server on 127.0.0.1:8000 (some 404s), wrk -t2 -c16 -d10s over
//! several paths, and one keep-alive curl over IPv6. httptop runs in a tmux server of its own
//! (160x48, `--interval 200ms` so the sparklines fill up in seconds); the screen is captured 8 s
//! into wrk's run, then httptop quits with `q`. Root (network namespaces, BPF); needs tmux,
//! nginx, wrk, curl, python3, and for the PNG `/usr/bin/python3` with PIL and the DejaVu fonts
//! (`apt-get install python3-pil fonts-dejavu-core`). Takes about 20 s.

use std::{
    ffi::OsString,
    fs,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use httptop_lab::{
    ChildGuard, Location, NetNs, Nginx, NginxConfig, PythonServer, TempDir, Tmux, run_to_exit,
};

use crate::{
    project::{Project, is_root, run_checked},
    tasks,
};

const NAME_PREFIX: &str = "httptop-shot";
const WIDTH: u16 = 160;
const HEIGHT: u16 = 48;
const NGINX_PORT: u16 = 8080;
const PYTHON_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";
const BOLD_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf";
const PYTHON_FOR_PNG: &str = "/usr/bin/python3";
/// The paths wrk cycles through, one in twenty answering 500.
const WRK_SCRIPT: &str = r#"local paths = {"/api/users?id=7", "/api/orders", "/static/app.js", "/", "/api/users?id=9",
  "/api/orders?page=2", "/static/app.css", "/api/users?id=11", "/", "/api/orders",
  "/static/logo.svg", "/api/users?id=3", "/", "/api/orders", "/static/app.js",
  "/api/users?id=5", "/", "/api/orders", "/static/app.css", "/api/legacy"}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[n % #paths + 1])
end
"#;
const CURL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(clap::Args)]
pub struct ScreenshotArgs {
    /// Where the screenshot files go (relative to the project root).
    #[arg(long, default_value = "assets")]
    out: PathBuf,
    /// Only dashboard.txt and dashboard.ansi: no PNG (which needs PIL and the DejaVu fonts).
    #[arg(long)]
    no_png: bool,
}

pub fn screenshot(project: &Project, args: &ScreenshotArgs) -> Result<()> {
    if !is_root() {
        bail!("cargo xtask screenshot needs root (network namespaces, BPF): run it as root");
    }
    for tool in ["tmux", "nginx", "wrk", "curl", "python3", "ip"] {
        if project.find_program(tool).is_none() {
            bail!("cargo xtask screenshot: {tool} is missing");
        }
    }
    if !args.no_png && !can_render_png() {
        bail!(
            "for the PNG: apt-get install python3-pil fonts-dejavu-core (or --no-png for the \
             text and ANSI screens only)"
        );
    }
    let binary = tasks::lab_binary(project)?;
    let out = project.root.join(&args.out);
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let work = TempDir::new(NAME_PREFIX)?;
    let ns = NetNs::new(NAME_PREFIX)?;
    let _nginx = Nginx::start(&ns, &work.path().join("nginx"), &nginx_config())?;
    let _python = PythonServer::http_server(&ns, PYTHON_ADDR)?;

    let dashboard_args: Vec<OsString> = vec![
        "netns".into(),
        "exec".into(),
        ns.name().into(),
        binary.into(),
        "--interval".into(),
        "200ms".into(),
    ];
    let tmux = Tmux::start(NAME_PREFIX, WIDTH, HEIGHT, "ip", &dashboard_args)?;
    tmux.wait_for("the dashboard", Duration::from_secs(10), |screen| {
        screen.contains("exchanges 0")
    })?;

    // Warm-up: a keep-alive curl over IPv6 (one connection, 400 requests) for the sparklines'
    // first seconds, and python http.server's 200s and 404s (one connection each).
    let urls = (1..=400).map(|i| format!("http://[::1]:{NGINX_PORT}/api/users?id={i}"));
    let mut keep_alive = ns.command("curl");
    keep_alive
        .args(["-sg", "--http1.1", "--rate", "100/s"])
        .args(urls)
        .stdout(Stdio::null());
    let _keep_alive = ChildGuard::spawn(keep_alive, "curl over IPv6")?;
    for path in [
        "index.html",
        "missing.html",
        "favicon.ico",
        "index.html",
        "old/page.html",
    ] {
        curl_python(&ns, path)?;
        thread::sleep(Duration::from_millis(300));
    }
    thread::sleep(Duration::from_secs(1));

    let script = work.path().join("paths.lua");
    fs::write(&script, WRK_SCRIPT).context("writing wrk's script")?;
    let wrk_log = work.path().join("wrk.log");
    let mut wrk = ns.command("wrk");
    wrk.args(["-t2", "-c16", "-d10s", "-s"])
        .arg(&script)
        .arg(format!("http://127.0.0.1:{NGINX_PORT}/"))
        .stdout(fs::File::create(&wrk_log).context("creating wrk.log")?);
    let mut wrk = ChildGuard::spawn(wrk, "wrk")?;
    thread::sleep(Duration::from_secs(2));
    for path in ["missing.html", "index.html", "robots.txt"] {
        curl_python(&ns, path)?;
    }
    thread::sleep(Duration::from_secs(6));

    let text = out.join("dashboard.txt");
    let ansi = out.join("dashboard.ansi");
    fs::write(&text, tmux.capture()?).with_context(|| format!("writing {}", text.display()))?;
    fs::write(&ansi, tmux.capture_with_colours()?)
        .with_context(|| format!("writing {}", ansi.display()))?;
    wrk.wait(Duration::from_secs(20))?;
    tmux.send_keys(&["q"])?;
    thread::sleep(Duration::from_millis(500));

    let mut written = vec![text, ansi];
    if !args.no_png {
        let png = out.join("dashboard.png");
        render_png(project, written.last().expect("the ANSI screen"), &png)?;
        written.push(png);
    }
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    eprintln!("xtask screenshot: wrote {}; wrk said:", names.join(", "));
    let wrk_said = fs::read_to_string(&wrk_log).unwrap_or_default();
    for line in wrk_said.lines().filter(|line| {
        ["Requests/sec", "requests in", "Non-2xx"]
            .iter()
            .any(|key| line.contains(key))
    }) {
        eprintln!("{line}");
    }
    Ok(())
}

/// nginx on 127.0.0.1 and [::1], a few paths with bodies of their own, one answering 500.
fn nginx_config() -> NginxConfig {
    let v4 = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), NGINX_PORT);
    let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), NGINX_PORT);
    let location = |path, status, body| Location { path, status, body };
    NginxConfig {
        error_log_level: "error",
        access_log: false,
        keepalive_requests: 1_000_000,
        keepalive_timeout: None,
        locations: vec![
            location("/", 200, "hello\n"),
            location("/api/users", 200, r#"{"id":42,"name":"ada"}"#),
            location("/api/orders", 200, "[]"),
            location("/static/", 200, "body{}\n"),
            location("/api/legacy", 500, "boom\n"),
        ],
        ..NginxConfig::new(&[v4, v6])
    }
}

/// One GET of `path` from python's http.server (a 200 or a 404, either is fine).
fn curl_python(ns: &NetNs, path: &str) -> Result<()> {
    let mut curl = ns.command("curl");
    curl.args(["-s", "-o", "/dev/null"])
        .arg(format!("http://{PYTHON_ADDR}/{path}"));
    run_to_exit(curl, CURL_TIMEOUT)?;
    Ok(())
}

fn can_render_png() -> bool {
    let has_pil = Command::new(PYTHON_FOR_PNG)
        .args(["-c", "import PIL"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    has_pil && Path::new(FONT).is_file() && Path::new(BOLD_FONT).is_file()
}

fn render_png(project: &Project, ansi: &Path, png: &Path) -> Result<()> {
    let mut render = Command::new(PYTHON_FOR_PNG);
    render
        .arg(project.root.join("assets/render-screenshot.py"))
        .arg(ansi)
        .arg(png)
        .args([WIDTH.to_string(), HEIGHT.to_string()])
        .args([FONT, BOLD_FONT]);
    run_checked(&mut render)
}
