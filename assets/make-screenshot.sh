#!/usr/bin/env bash
# Regenerates the dashboard screenshot in assets/ from real traffic:
#   dashboard.txt   the busy dashboard at 160x48 as plain text (tmux capture-pane -p)
#   dashboard.ansi  the same screen with its colours as escape sequences (capture-pane -p -e)
#   dashboard.png   dashboard.ansi drawn with DejaVu Sans Mono on a dark background
#
# In a network namespace of its own (created here, deleted on exit): nginx on 127.0.0.1:8080 and
# [::1]:8080 (a few paths, one answering 500), python3's http.server on 127.0.0.1:8000 (some
# 404s), wrk -t2 -c16 -d10s over several paths, and one keep-alive curl over IPv6. httptop runs
# in a tmux server of its own (160x48, --interval 200ms so the sparklines fill up in seconds);
# the screen is captured 8 s into wrk's run, then httptop quits with `q`.
#
# Root (network namespaces, BPF). Needs tmux, nginx, wrk, curl, python3, and for the PNG
# /usr/bin/python3 with PIL and the DejaVu fonts (apt-get install python3-pil fonts-dejavu-core).
# Build first: cargo build --release -p httptop (or set HTTPTOP_BIN). Takes about 20 s.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
binary=${HTTPTOP_BIN:-$root/target/release/httptop}
out=$root/assets
width=160
height=48
font=/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf
bold_font=/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf

[ "$(id -u)" -eq 0 ] || { echo "make-screenshot.sh: run as root (network namespaces, BPF)" >&2; exit 1; }
[ -x "$binary" ] || { echo "make-screenshot.sh: no $binary: cargo build --release -p httptop" >&2; exit 1; }
for tool in tmux nginx wrk curl python3 ip; do
  command -v "$tool" > /dev/null || { echo "make-screenshot.sh: $tool is missing" >&2; exit 1; }
done
/usr/bin/python3 -c 'import PIL' 2> /dev/null && [ -f "$font" ] && [ -f "$bold_font" ] || {
  echo "make-screenshot.sh: for the PNG: apt-get install python3-pil fonts-dejavu-core" >&2
  exit 1
}

ns=httptop-shot-$$
socket=httptop-shot-$$
work=$(mktemp -d)
tmux_socket_path=
tmux() { command tmux -L "$socket" "$@"; }

cleanup() {
  tmux kill-server 2> /dev/null || true
  [ -n "$tmux_socket_path" ] && rm -f "$tmux_socket_path"
  if ip netns list | grep -qw "$ns"; then
    # nginx's master takes its worker down on SIGTERM; the rest (wrk, curl, python) just go.
    for pid in $(ip netns pids "$ns"); do kill -TERM "$pid" 2> /dev/null || true; done
    sleep 0.5
    for pid in $(ip netns pids "$ns"); do kill -KILL "$pid" 2> /dev/null || true; done
    ip netns del "$ns"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Polls `tmux capture-pane` until it shows $1, for at most $2 seconds.
wait_for_screen() {
  local text=$1 deadline=$((SECONDS + $2))
  until tmux capture-pane -p | grep -qF -- "$text"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "make-screenshot.sh: no \"$text\" on screen after $2 s:" >&2
      tmux capture-pane -p >&2
      exit 1
    fi
    sleep 0.1
  done
}

# Polls until $1 accepts TCP connections inside the namespace, for at most 10 s.
wait_for_port() {
  local host=$1 port=$2 deadline=$((SECONDS + 10))
  until ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$host/$port" 2> /dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "make-screenshot.sh: nothing on $host:$port" >&2; exit 1; }
    sleep 0.1
  done
}

ip netns add "$ns"
ip -n "$ns" link set lo up

mkdir -p "$work/nginx" "$work/www"
cat > "$work/nginx/nginx.conf" << EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/client_body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    keepalive_requests 1000000;
    default_type text/plain;
    server {
        listen 127.0.0.1:8080;
        listen [::1]:8080;
        location / { return 200 "hello\n"; }
        location /api/users { return 200 '{"id":42,"name":"ada"}'; }
        location /api/orders { return 200 '[]'; }
        location /static/ { return 200 "body{}\n"; }
        location /api/legacy { return 500 "boom\n"; }
    }
}
EOF
ip netns exec "$ns" nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" &
echo 'hello from python http.server' > "$work/www/index.html"
ip netns exec "$ns" python3 -m http.server 8000 --bind 127.0.0.1 --directory "$work/www" \
  > "$work/python.log" 2>&1 &
wait_for_port 127.0.0.1 8080
wait_for_port 127.0.0.1 8000

# The dashboard, in a tmux server of its own.
tmux -f /dev/null new-session -d -x "$width" -y "$height" \
  ip netns exec "$ns" "$binary" --interval 200ms
tmux_socket_path=$(tmux display-message -p '#{socket_path}')
wait_for_screen "exchanges 0" 10

# Warm-up: a keep-alive curl over IPv6 (one connection, 400 requests) for the sparklines'
# first seconds, and python http.server's 200s and 404s (one connection each).
urls=()
for i in $(seq 1 400); do urls+=("http://[::1]:8080/api/users?id=$i"); done
timeout 30 ip netns exec "$ns" curl -sg --http1.1 --rate 100/s "${urls[@]}" > /dev/null &
for path in index.html missing.html favicon.ico index.html old/page.html; do
  timeout 5 ip netns exec "$ns" curl -s -o /dev/null "http://127.0.0.1:8000/$path"
  sleep 0.3
done
sleep 1

# wrk over several paths, one in twenty answering 500.
cat > "$work/paths.lua" << 'EOF'
local paths = {"/api/users?id=7", "/api/orders", "/static/app.js", "/", "/api/users?id=9",
  "/api/orders?page=2", "/static/app.css", "/api/users?id=11", "/", "/api/orders",
  "/static/logo.svg", "/api/users?id=3", "/", "/api/orders", "/static/app.js",
  "/api/users?id=5", "/", "/api/orders", "/static/app.css", "/api/legacy"}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[n % #paths + 1])
end
EOF
timeout 30 ip netns exec "$ns" wrk -t2 -c16 -d10s -s "$work/paths.lua" http://127.0.0.1:8080/ \
  > "$work/wrk.log" 2>&1 &
wrk_pid=$!
sleep 2
for path in missing.html index.html robots.txt; do
  timeout 5 ip netns exec "$ns" curl -s -o /dev/null "http://127.0.0.1:8000/$path"
done
sleep 6

tmux capture-pane -p > "$out/dashboard.txt"
tmux capture-pane -p -e > "$out/dashboard.ansi"
wait "$wrk_pid" || true
tmux send-keys q
sleep 0.5

/usr/bin/python3 - "$out/dashboard.ansi" "$out/dashboard.png" "$width" "$height" "$font" "$bold_font" << 'EOF'
"""Draws a `tmux capture-pane -e` screen: SGR colours and bold, block elements and box lines
drawn as shapes so that bars and borders join up between rows."""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

src, dst, cols, rows, regular, bold = sys.argv[1:7]
cols, rows = int(cols), int(rows)
size = 14
font = ImageFont.truetype(regular, size)
bold_font = ImageFont.truetype(bold, size)
cell_w = round(font.getlength("M"))
cell_h = 17
pad = 10

# A dark palette (base 16, then xterm's 256 colour cube and grey ramp).
base = [(0x1d, 0x1f, 0x21), (0xe0, 0x6c, 0x75), (0x98, 0xc3, 0x79), (0xe5, 0xc0, 0x7b),
        (0x61, 0xaf, 0xef), (0xc6, 0x78, 0xdd), (0x56, 0xb6, 0xc2), (0xc5, 0xc8, 0xc6),
        (0x5c, 0x63, 0x70), (0xff, 0x7b, 0x86), (0xb5, 0xe8, 0x90), (0xff, 0xd8, 0x8a),
        (0x82, 0xc8, 0xff), (0xe0, 0x9a, 0xf5), (0x7e, 0xd8, 0xe2), (0xff, 0xff, 0xff)]
levels = [0, 95, 135, 175, 215, 255]
palette = base + [(levels[i // 36], levels[i // 6 % 6], levels[i % 6]) for i in range(216)]
palette += [(8 + 10 * i,) * 3 for i in range(24)]
default_fg, default_bg = (0xd0, 0xd0, 0xd0), (0x1d, 0x1f, 0x21)

# The screen as cells: (char, fg, bg, bold).
screen = [[(" ", default_fg, default_bg, False)] * cols for _ in range(rows)]
text = open(src, encoding="utf-8").read()
for y, line in enumerate(text.split("\n")[:rows]):
    fg, bg, is_bold, reverse = default_fg, default_bg, False, False
    x = 0
    for token in re.split(r"(\x1b\[[0-9;]*m)", line):
        if token.startswith("\x1b["):
            codes = [int(c) if c else 0 for c in token[2:-1].split(";")]
            i = 0
            while i < len(codes):
                c = codes[i]
                if c == 0:
                    fg, bg, is_bold, reverse = default_fg, default_bg, False, False
                elif c == 1:
                    is_bold = True
                elif c == 22:
                    is_bold = False
                elif c == 7:
                    reverse = True
                elif c == 27:
                    reverse = False
                elif 30 <= c <= 37:
                    fg = palette[c - 30]
                elif 90 <= c <= 97:
                    fg = palette[c - 90 + 8]
                elif c == 39:
                    fg = default_fg
                elif 40 <= c <= 47:
                    bg = palette[c - 40]
                elif 100 <= c <= 107:
                    bg = palette[c - 100 + 8]
                elif c == 49:
                    bg = default_bg
                elif c in (38, 48) and i + 1 < len(codes):
                    if codes[i + 1] == 5 and i + 2 < len(codes):
                        colour, i = palette[codes[i + 2]], i + 2
                    elif codes[i + 1] == 2 and i + 4 < len(codes):
                        colour, i = tuple(codes[i + 2:i + 5]), i + 4
                    else:
                        colour = None
                    if colour is not None:
                        if c == 38:
                            fg = colour
                        else:
                            bg = colour
                i += 1
            continue
        for ch in token:
            if x < cols:
                f, b = (bg, fg) if reverse else (fg, bg)
                screen[y][x] = (ch, f, b, is_bold)
            x += 1

image = Image.new("RGB", (cols * cell_w + 2 * pad, rows * cell_h + 2 * pad), default_bg)
draw = ImageDraw.Draw(image)
# Light box drawing: which of (left, right, up, down) each character joins.
box = {"─": (1, 1, 0, 0), "│": (0, 0, 1, 1), "┌": (0, 1, 0, 1), "┐": (1, 0, 0, 1),
       "└": (0, 1, 1, 0), "┘": (1, 0, 1, 0), "├": (0, 1, 1, 1), "┤": (1, 0, 1, 1),
       "┬": (1, 1, 0, 1), "┴": (1, 1, 1, 0), "┼": (1, 1, 1, 1)}
for y, row in enumerate(screen):
    for x, (ch, fg, bg, is_bold) in enumerate(row):
        left, top = pad + x * cell_w, pad + y * cell_h
        right, bottom = left + cell_w, top + cell_h
        if bg != default_bg:
            draw.rectangle([left, top, right - 1, bottom - 1], fill=bg)
        if ch == " ":
            continue
        if "\u2581" <= ch <= "\u2588":  # ▁▂▃▄▅▆▇█: lower eighths of the cell
            eighths = ord(ch) - 0x2580
            draw.rectangle([left, bottom - cell_h * eighths // 8, right - 1, bottom - 1], fill=fg)
        elif ch in box:
            joins_left, joins_right, joins_up, joins_down = box[ch]
            mid_x, mid_y = left + cell_w // 2, top + cell_h // 2
            if joins_left:
                draw.line([left, mid_y, mid_x, mid_y], fill=fg)
            if joins_right:
                draw.line([mid_x, mid_y, right - 1, mid_y], fill=fg)
            if joins_up:
                draw.line([mid_x, top, mid_x, mid_y], fill=fg)
            if joins_down:
                draw.line([mid_x, mid_y, mid_x, bottom - 1], fill=fg)
        else:
            draw.text((left, top + 1), ch, font=bold_font if is_bold else font, fill=fg)

# Few colours: a palette image keeps the file small.
image.convert("P", palette=Image.ADAPTIVE, colors=64).save(dst, optimize=True)
EOF

echo "wrote $out/dashboard.txt, dashboard.ansi, dashboard.png; wrk said:"
grep -E "Requests/sec|requests in|Non-2xx" "$work/wrk.log" || true
