#!/usr/bin/env python3
"""Draws a `tmux capture-pane -e` screen as a PNG for `cargo xtask screenshot`: SGR colours
and bold, block elements and box lines drawn as shapes so that bars and borders join up
between rows.

Usage: render-screenshot.py SCREEN.ansi OUT.png COLUMNS ROWS FONT.ttf BOLD_FONT.ttf
"""
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
