//! `101 Switching Protocols` against a real WebSocket server and client (the `websockets`
//! library, Debian's `python3-websockets`, run by Debian's own python3): each upgrade is one
//! exchange answered with 101, and the frames after it, HTTP-looking text in them included,
//! never count, expire or go unmatched.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use httptop_tests::{AttachMode, Httptop, NetNs, python_client, python_script_server};

const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8765);
/// The interpreter the Debian package installs its modules for (a PATH python3 may be another).
const PYTHON: &str = "/usr/bin/python3";
const TIMEOUT: Duration = Duration::from_secs(30);
const CONNECTIONS: u64 = 5;
const MESSAGES: u64 = 20;

/// An echo server; says `ready` on stderr once it listens.
const ECHO_SERVER: &str = r#"
import asyncio, sys, websockets
async def echo(ws, *path):
    async for message in ws:
        await ws.send(message)
async def main():
    async with websockets.serve(echo, sys.argv[1], int(sys.argv[2])):
        print("ready", file=sys.stderr, flush=True)
        await asyncio.Future()
asyncio.run(main())
"#;

/// `connections` connections one after the other, `messages` echoed text messages on each that
/// read like HTTP, then a clean close.
const CLIENT: &str = r#"
import asyncio, sys, websockets
async def main():
    url, connections, messages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for _ in range(connections):
        async with websockets.connect(url) as ws:
            for i in range(messages):
                message = f"GET /in-frame-{i} HTTP/1.1\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"
                await ws.send(message)
                assert await ws.recv() == message
asyncio.run(main())
"#;

fn websocket_upgrades_are_exchanges_and_their_frames_never_count(mode: AttachMode) {
    let ns = NetNs::new();
    let _server = python_script_server(
        &ns,
        PYTHON,
        ECHO_SERVER,
        SERVER,
        "the websockets echo server",
    );
    let httptop = Httptop::attach_in(mode, &ns, &["--top", "50"]);
    let args = [
        format!("ws://{SERVER}/chat"),
        CONNECTIONS.to_string(),
        MESSAGES.to_string(),
    ];
    python_client(&ns, PYTHON, CLIENT, args, TIMEOUT);
    let summary = httptop.stop();
    // One exchange per connection, all of them answered: nothing interim, expired, unmatched or
    // left undelimited.
    summary.assert_all_answered(CONNECTIONS);
    assert_eq!(
        summary.0["status_codes"],
        serde_json::json!([{"status": 101, "count": CONNECTIONS}]),
        "{summary}"
    );
    for (_, server, exchanges) in summary.top_talkers() {
        assert_eq!(server, SERVER.to_string(), "{summary}");
        assert_eq!(exchanges, 1, "{summary}");
    }
}

httptop_tests::in_each_attach_mode!(websocket_upgrades_are_exchanges_and_their_frames_never_count);
