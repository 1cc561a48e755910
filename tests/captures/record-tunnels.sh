#!/bin/bash
# Records generated_vxlan_snaplen256.pcap (or the file named by $1): curl fetching from
# python3's http.server through VXLAN tunnels between two network namespaces, captured
# by tcpdump on the underlay veth with a 256-byte snap length, so every tunnelled packet is in
# its outer headers and every long one is cut short (original length > snap length).
# Needs root, iproute2, tcpdump, curl, python3. Leaves nothing behind.
set -euo pipefail
out=$(realpath -m "${1:-generated_vxlan_snaplen256.pcap}")
A=httptop-rec-a B=httptop-rec-b
www=$(mktemp -d)
cleanup() {
    [[ -n ${server:-} ]] && kill "$server" 2>/dev/null
    ip netns del $A 2>/dev/null || true
    ip netns del $B 2>/dev/null || true
    rm -rf "$www"
}
trap cleanup EXIT

ip netns add $A
ip netns add $B
ip link add ua netns $A type veth peer name ub netns $B
ip -n $A addr add 10.231.0.1/24 dev ua
ip -n $B addr add 10.231.0.2/24 dev ub
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set ua up
ip -n $B link set ub up

# VXLAN over an IPv4 and over an IPv6 underlay (this kernel has no GRE, Geneve or IPIP
# devices; public captures in this folder hold those), each carrying IPv4 and IPv6.
ip -n $A addr add fd00:231::1/64 dev ua nodad
ip -n $B addr add fd00:231::2/64 dev ub nodad
side() { # namespace, host number, peer's host number
    local ns=$1 host=$2 peer=$3
    ip -n "$ns" link add vx4 type vxlan id 42 dstport 4789 \
        local "10.231.0.$host" remote "10.231.0.$peer"
    ip -n "$ns" link add vx6 type vxlan id 43 dstport 4789 \
        local "fd00:231::$host" remote "fd00:231::$peer"
    ip -n "$ns" addr add "10.232.4.$host/24" dev vx4
    ip -n "$ns" addr add "fd00:232:4::$host/64" dev vx4 nodad
    ip -n "$ns" addr add "10.232.6.$host/24" dev vx6
    ip -n "$ns" addr add "fd00:232:6::$host/64" dev vx6 nodad
    ip -n "$ns" link set vx4 up
    ip -n "$ns" link set vx6 up
}
side $A 1 2
side $B 2 1

# A page of a few segments, so responses span several packets.
python3 -c "print('<p>' + 'x' * 4000 + '</p>')" >"$www/index.html"
ip netns exec $B python3 -m http.server 8080 --bind :: --directory "$www" >/dev/null 2>&1 &
server=$!

# The server is up (asked outside every tunnel) before the capture starts.
for _ in $(seq 100); do
    ip netns exec $A curl -s -o /dev/null --max-time 1 http://10.231.0.2:8080/ && break
    sleep 0.1
done
ip netns exec $A tcpdump -i ua -s 256 --immediate-mode -U -w "$out" 2>"$www/tcpdump.err" &
dump=$!
for _ in $(seq 100); do grep -q "listening on" "$www/tcpdump.err" && break; sleep 0.05; done

# Per tunnel and inner family: three requests on one connection, one on its own, a 404.
for host in 10.232.4.2 '[fd00:232:4::2]' 10.232.6.2 '[fd00:232:6::2]'; do
    url=http://$host:8080
    ip netns exec $A curl -sf -o /dev/null -o /dev/null -o /dev/null \
        "$url/" "$url/index.html" "$url/?q=3"
    ip netns exec $A curl -sf -o /dev/null "$url/index.html"
    ip netns exec $A curl -s -o /dev/null "$url/missing"
done

# tcpdump hands packets over per ring block: give the last block time to reach the file.
sleep 1.5
kill -TERM $dump
wait $dump || true
tail -n +2 "$www/tcpdump.err" >&2 # the packets tcpdump captured and dropped
echo "wrote $out"
