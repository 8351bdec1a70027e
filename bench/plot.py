#!/usr/bin/env python3
"""Draws the throughput plots of docs/BENCHMARKS.md from `ivy-bench --json` output.

    bench/plot.py RESULTS.json [OUTDIR]      (default OUTDIR: docs/)

Writes OUTDIR/bench-subscribers.png (deliveries/s against the number of
subscribers: 1, 2, 5, 10) and OUTDIR/bench-regexps.png (msgs/s against the number
of regexps the subscriber holds: 1, 10, 100, 1000), 20-byte messages. Series: the
Rust API (sending thread), the C API (`c:` scenarios) when present, and the ivy-c
3.15 figures quoted in issue 6 (not measured here). Uses matplotlib when it can be
imported, else a tiny built-in PNG writer (lines and points, no text).
"""

import json
import struct
import sys
import zlib

# ivy-c 3.15 on a machine like ours, as quoted in issue 6 (not measured here).
IVYC_SUBS = {1: 95_000, 10: 65_000}
IVYC_REGEXPS = {1: 95_000, 1000: 20_000}
# Targets of issue 6 (1 -> 1 20 B: 2 M msgs/s; 1 -> 10: 1.5 M deliveries/s;
# 1000 regexps: 1 M msgs/s).
TARGET_SUBS = {1: 2_000_000, 10: 1_500_000}
TARGET_REGEXPS = {1: 2_000_000, 1000: 1_000_000}


def series(rows, sender, x_key, y_key, fixed):
    """{x: median y} for throughput rows of `sender` with the `fixed` params."""
    out = {}
    for r in rows:
        p = r["params"]
        if p.get("kind") != "throughput" or p.get("sender") != sender or p.get("subscriber") != sender:
            continue
        if sender == "rust" and p.get("mode") != "thread":
            continue
        if any(p.get(k) != str(v) for k, v in fixed.items()):
            continue
        y = r["median"].get(y_key)
        if y:
            out[int(p[x_key])] = y
    return dict(sorted(out.items()))


def plot_matplotlib(path, title, xlabel, ylabel, lines, logx):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    styles = ["o-", "s-", "^--", "rx"]
    for (label, pts), style in zip(lines, styles):
        if pts:
            ax.plot(list(pts), list(pts.values()), style, label=label, markersize=9 if "x" in style else 6)
    if logx:
        ax.set_xscale("log")
    ax.set_yscale("log")
    xs = sorted({x for _, pts in lines for x in pts})
    ax.set_xticks(xs)
    ax.set_xticklabels([str(x) for x in xs])
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def png_write(path, width, height, pixels):
    """pixels: bytearray of RGB rows."""
    raw = b"".join(b"\0" + bytes(pixels[y * width * 3:(y + 1) * width * 3]) for y in range(height))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def plot_fallback(path, lines, logx):
    """Axes, log-log polylines and points; no text (matplotlib missing)."""
    import math

    w, h, m = 640, 400, 40
    px = bytearray([255] * (w * h * 3))

    def put(x, y, c):
        if 0 <= x < w and 0 <= y < h:
            px[(y * w + x) * 3:(y * w + x) * 3 + 3] = bytes(c)

    def seg(x0, y0, x1, y1, c):
        n = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(n + 1):
            put(round(x0 + (x1 - x0) * i / n), round(y0 + (y1 - y0) * i / n), c)

    pts_all = [(x, y) for _, pts in lines for x, y in pts.items() if y > 0]
    if not pts_all:
        png_write(path, w, h, px)
        return
    fx = (lambda x: math.log10(x)) if logx else (lambda x: x)
    xs = [fx(x) for x, _ in pts_all]
    ys = [math.log10(y) for _, y in pts_all]
    x0, x1 = min(xs), max(xs) or 1
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))
    sx = lambda x: m + round((fx(x) - x0) / ((x1 - x0) or 1) * (w - 2 * m))
    sy = lambda y: h - m - round((math.log10(y) - y0) / ((y1 - y0) or 1) * (h - 2 * m))
    seg(m, h - m, w - m, h - m, (0, 0, 0))
    seg(m, m, m, h - m, (0, 0, 0))
    for d in range(int(y0), int(y1) + 1):  # decades
        yy = sy(10 ** d)
        seg(m - 5, yy, w - m, yy, (220, 220, 220))
    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
    for (_, pts), c in zip(lines, colours):
        prev = None
        for x, y in pts.items():
            p = (sx(x), sy(y))
            for dx in range(-3, 4):
                for dy in range(-3, 4):
                    put(p[0] + dx, p[1] + dy, c)
            if prev and c != colours[3]:  # targets: points only
                seg(prev[0], prev[1], p[0], p[1], c)
            prev = p
    png_write(path, w, h, px)


def draw(path, title, xlabel, ylabel, lines, logx):
    try:
        plot_matplotlib(path, title, xlabel, ylabel, lines, logx)
    except ImportError:
        plot_fallback(path, lines, logx)
    print(path)


# The two figures: the x parameter that varies, the y metric, the parameters
# held fixed, the quoted ivy-c figures and the targets.
FIGURES = [
    {
        "file": "bench-subscribers.png",
        "title": "1 sender → N subscribers, 20-byte messages",
        "xlabel": "subscribers",
        "ylabel": "deliveries / s",
        "x": "subs",
        "y": "deliveries_per_s",
        "fixed": {"size": 20, "regexps": 1},
        "ivyc": IVYC_SUBS,
        "target": TARGET_SUBS,
        "logx": False,
    },
    {
        "file": "bench-regexps.png",
        "title": "1 → 1, subscriber holds N regexps (one matches), 20 B",
        "xlabel": "regexps held by the subscriber",
        "ylabel": "messages / s",
        "x": "regexps",
        "y": "msgs_per_s",
        "fixed": {"size": 20, "subs": 1},
        "ivyc": IVYC_REGEXPS,
        "target": TARGET_REGEXPS,
        "logx": True,
    },
]


def figure_lines(rows, fig):
    """The series of one figure: both APIs measured, ivy-c quoted, the targets."""
    return [
        ("ivy-rs, Rust API (sending thread)", series(rows, "rust", fig["x"], fig["y"], fig["fixed"])),
        ("ivy-rs, C API (in-loop sender)", series(rows, "c", fig["x"], fig["y"], fig["fixed"])),
        ("ivy-c 3.15 (quoted in issue 6)", fig["ivyc"]),
        ("target (issue 6)", fig["target"]),
    ]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    data = json.load(open(sys.argv[1]))
    out = sys.argv[2] if len(sys.argv) > 2 else "docs"
    rows = data["rows"]
    for fig in FIGURES:
        lines = figure_lines(rows, fig)
        draw(f"{out}/{fig['file']}", fig["title"], fig["xlabel"], fig["ylabel"], lines, fig["logx"])


if __name__ == "__main__":
    main()
