#!/usr/bin/env python3
"""Plots bench/load.py results: throughput and p99 against concurrency, one line per store (and
per operation for p99), as one SVG. Standard library only.

    bench/plot.py OUT.svg RESULTS.json [RESULTS.json ...]
"""
import argparse, json, math

W, H, PAD = 460, 300, 56
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def panel(x0, title, ylabel, series, levels):
    """One chart at x offset x0: series is [(name, [y per level])]; y on a log scale."""
    values = [y for _, ys in series for y in ys if y and y > 0]
    low = 10 ** math.floor(math.log10(min(values)))
    high = 10 ** math.ceil(math.log10(max(values)))
    px = lambda i: x0 + PAD + i * (W - 2 * PAD) / max(1, len(levels) - 1)
    py = lambda y: H - PAD - (math.log10(y) - math.log10(low)) / (math.log10(high) - math.log10(low)) * (H - 2 * PAD)
    out = [f'<text x="{x0 + W / 2}" y="20" text-anchor="middle" font-weight="bold">{title}</text>',
           f'<line x1="{x0 + PAD}" y1="{H - PAD}" x2="{x0 + W - PAD}" y2="{H - PAD}" stroke="black"/>',
           f'<line x1="{x0 + PAD}" y1="{PAD}" x2="{x0 + PAD}" y2="{H - PAD}" stroke="black"/>',
           f'<text x="{x0 + W / 2}" y="{H - 14}" text-anchor="middle">concurrency (clients)</text>',
           f'<text x="{x0 + 14}" y="{H / 2}" text-anchor="middle" transform="rotate(-90 {x0 + 14} {H / 2})">{ylabel}</text>']
    for i, level in enumerate(levels):
        out.append(f'<text x="{px(i)}" y="{H - PAD + 16}" text-anchor="middle">{level}</text>')
    decade = low
    while decade <= high:
        out.append(f'<line x1="{x0 + PAD}" y1="{py(decade)}" x2="{x0 + W - PAD}" y2="{py(decade)}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + PAD - 4}" y="{py(decade) + 4}" text-anchor="end">{decade:g}</text>')
        decade *= 10
    for k, (name, ys) in enumerate(series):
        color = COLORS[k % len(COLORS)]
        points = " ".join(f"{px(i)},{py(y)}" for i, y in enumerate(ys) if y and y > 0)
        out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
        out += [f'<circle cx="{px(i)}" cy="{py(y)}" r="3" fill="{color}"/>' for i, y in enumerate(ys) if y and y > 0]
        out.append(f'<text x="{x0 + PAD + 8}" y="{PAD + 14 * k}" fill="{color}">{name}</text>')
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", metavar="OUT.svg", help="the SVG to write")
    parser.add_argument("inputs", metavar="RESULTS.json", nargs="+", help="bench/load.py --json output, one per store")
    args = parser.parse_args()
    out_path, inputs = args.out, args.inputs
    runs = [json.load(open(path)) for path in inputs]
    levels = [r["concurrency"] for r in runs[0]["results"]]
    throughput = [(run["label"], [r["rps"] for r in run["results"]]) for run in runs]
    p99 = [(f"{run['label']} {op}", [r["ops"].get(op, {}).get("p99") for r in run["results"]])
           for run in runs for op in ("create", "get")]
    body = panel(0, "Throughput, whole mix", "req/s (log)", throughput, levels)
    body += panel(W, "p99 latency", "ms (log)", p99, levels)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H}" font-family="sans-serif" '
           f'font-size="11"><rect width="100%" height="100%" fill="white"/>{"".join(body)}</svg>\n')
    with open(out_path, "w") as f:
        f.write(svg)


if __name__ == "__main__":
    main()
