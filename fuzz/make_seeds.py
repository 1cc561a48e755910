#!/usr/bin/env python3
"""Seeds the fuzz corpora from the real captures in tests/captures (run from fuzz/).

Writes fuzz/corpus/<target>/seed-*: message heads for http_head, frame sequences in
engine_frames' input format, and small or cut captures for capture_file. Needs editcap
(tshark's package) for the pcapng captures. Standard library only.
"""

import os
import struct
import subprocess
import tempfile

CAPTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "captures")
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

ETH_P_IP, ETH_P_IPV6, VLAN_TAGS = 0x0800, 0x86DD, (0x8100, 0x88A8)


def pcap_packets(path):
    """(linktype, [(ts_ns, bytes)]) of a pcap file; pcapng goes through editcap first."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        with tempfile.NamedTemporaryFile(suffix=".pcap") as tmp:
            subprocess.run(["editcap", "-F", "pcap", path, tmp.name], check=True)
            return pcap_packets(tmp.name)
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = struct.unpack(endian + "I", data[:4])[0] == 0xA1B23C4D
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off, packets = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[off : off + 16])
        ts = sec * 10**9 + (frac if nano else frac * 1000)
        packets.append((ts, data[off + 16 : off + 16 + incl]))
        off += 16 + incl
    return linktype, packets


def network_layer(linktype, frame):
    """(ethertype, bytes from the network header) or None."""
    if linktype == 1:
        ethertype, off = struct.unpack(">H", frame[12:14])[0], 14
        while ethertype in VLAN_TAGS:
            ethertype, off = struct.unpack(">H", frame[off + 2 : off + 4])[0], off + 4
        return ethertype, frame[off:]
    if linktype == 0:
        return (ETH_P_IPV6 if frame[0] in (24, 28, 30) else ETH_P_IP), frame[4:]
    return None


def tcp_payload(ethertype, net):
    if ethertype == ETH_P_IP and net and net[0] >> 4 == 4 and net[9] == 6:
        l4 = (net[0] & 15) * 4
        end = struct.unpack(">H", net[2:4])[0] or len(net)
    elif ethertype == ETH_P_IPV6 and len(net) >= 40 and net[6] == 6:
        l4, end = 40, 40 + struct.unpack(">H", net[4:6])[0]
    else:
        return b""
    return net[l4 + (net[l4 + 12] >> 4) * 4 : end]


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, "seed-" + name), "wb") as f:
        f.write(data)


def engine_frame(op, dt, data):
    return bytes([op, dt]) + struct.pack("<H", len(data)) + data


def main():
    heads = {}
    for name in sorted(os.listdir(CAPTURES)):
        if not name.endswith((".pcap", ".pcapng")):
            continue
        path = os.path.join(CAPTURES, name)
        stem = name.rsplit(".", 1)[0]
        linktype, packets = pcap_packets(path)
        net = [n for n in (network_layer(linktype, p) for _, p in packets) if n]

        # http_head: distinct message starts (request and status lines), as the window sees them.
        for ethertype, layer in net:
            payload = tcp_payload(ethertype, layer)
            if payload[:4] in (b"GET ", b"POST", b"HEAD", b"HTTP", b"PUT ", b"OPTI"):
                window = payload[:512]
                key = window.split(b"\n", 1)[0][:24]
                if key not in heads:
                    heads[key] = struct.pack("<H", len(window)) + window

        # engine_frames: the capture's first 48 frames as raw network-layer packets, with the
        # time between them.
        frames, last = b"", packets[0][0] if packets else 0
        for (ts, _), (ethertype, layer) in list(zip(packets, net))[:48]:
            dt = min(255, int(((ts - last) / 1e6) ** 0.5))
            last = ts
            frames += engine_frame(0x80 | (ethertype == ETH_P_IPV6), dt, layer)
        write("engine_frames", stem, frames)

        # capture_file: small captures whole, large ones cut (a cut capture must read too).
        with open(path, "rb") as f:
            data = f.read()
        write("capture_file", stem, data[:16384])

    for i, (_, head) in enumerate(sorted(heads.items())[:64]):
        write("http_head", "%02d" % i, head)

    # engine_frames built by the target: keep-alive, pipelining, 100-continue, close, reset.
    get = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    write("engine_frames", "keepalive",
          engine_frame(0, 0, get) + engine_frame(4, 1, ok) + engine_frame(0, 1, get) + engine_frame(4, 1, ok))
    write("engine_frames", "pipelined", engine_frame(0, 0, get * 3) + engine_frame(4, 2, ok * 3))
    write("engine_frames", "continue",
          engine_frame(0, 0, b"POST /p HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
          + engine_frame(4, 1, b"HTTP/1.1 100 Continue\r\n\r\n") + engine_frame(0, 1, b"abc")
          + engine_frame(4, 1, b"HTTP/1.1 204 No Content\r\n\r\n"))
    write("engine_frames", "reset-and-timeout",
          engine_frame(1, 0, get) + engine_frame(1 | 0x40, 1, b"")
          + engine_frame(3, 0, get) + engine_frame(2, 200, b"HTTP/1.1 200 OK\r\n\r\n")
          + engine_frame(0 | 0x08, 1, get) + engine_frame(4 | 0x20, 1, b""))


if __name__ == "__main__":
    main()
