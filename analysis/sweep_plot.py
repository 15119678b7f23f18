"""sweep_plot.py — plots and the HTML report of one or two sweeps
(`sagellm-bench sweep --out DIR`), called by plot.py when its arguments are
sweep directories.

Writes into OUT:
    sweep_latency.png     TTFT, TPOT, ITL and E2E latency p50 (dashed) and
                          p99 (solid) against the offered rate, per sweep
    sweep_attainment.png  SLO attainment against the offered rate, the
                          target as a line, each sweep's capacity marked
    report.html           the capacity of each sweep, its points, the plots

Uses the standard library and matplotlib (Agg backend) only.
"""

import html
import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import html_report as hr  # noqa: E402

LATENCIES = (("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "ITL"), ("e2el", "E2E latency"))
MARKERS = {"pass": "o", "fail": "x", "invalid": "s", "incomplete": "^"}


class InputError(Exception):
    pass


def is_sweep(path):
    """True when path is a sweep directory or its sweep.json."""
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, "sweep.json"))
    return os.path.basename(path) == "sweep.json" and os.path.isfile(path)


class Sweep:
    def __init__(self, path, name=None):
        f = path if os.path.isfile(path) else os.path.join(path, "sweep.json")
        try:
            with open(f, encoding="utf-8") as fh:
                self.doc = json.load(fh)
        except ValueError as e:
            raise InputError(f"{f}: not JSON: {e}") from e
        if not isinstance(self.doc.get("points"), list):
            raise InputError(f"{f}: field 'points': expected an array")
        self.name = name or os.path.basename(os.path.dirname(os.path.abspath(f)))
        self.points = self.doc["points"]
        self.cap = self.doc.get("capacity") or {}
        self.target = self.doc.get("target", 0.95)

    def rate(self, p):
        v = p.get("offered_rate")
        return v if isinstance(v, (int, float)) else math.nan


def _num(v):
    return v if isinstance(v, (int, float)) else math.nan


def _rate_axis(ax, sweeps):
    """A log rate axis when the rates span more than 20x (a search doubles)."""
    rates = [r for s in sweeps for r in (s.rate(p) for p in s.points) if r > 0]
    if rates and max(rates) / min(rates) > 20:
        ax.set_xscale("log")


def plot_latency(sweeps, out):
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for ax, (m, label) in zip(axes.flat, LATENCIES):
        for i, s in enumerate(sweeps):
            color = f"C{i}"
            pts = sorted(s.points, key=s.rate)
            xs = [s.rate(p) for p in pts]
            ax.plot(xs, [_num(p.get(f"median_{m}_ms")) for p in pts], "--", color=color, marker=".",
                    label=f"{s.name} p50")
            ax.plot(xs, [_num(p.get(f"p99_{m}_ms")) for p in pts], "-", color=color, marker="o",
                    label=f"{s.name} p99")
            c = _num(s.cap.get("offered_rate"))
            if not math.isnan(c):
                ax.axvline(c, color=color, linestyle=":", linewidth=1)
        _rate_axis(ax, sweeps)
        ax.set_title(f"{label} against offered load")
        ax.set_xlabel("offered rate (req/s)")
        ax.set_ylabel(f"{label} (ms)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return hr.save_figure(fig, out, "sweep_latency.png")


def plot_attainment(sweeps, out):
    fig, ax = plt.subplots(figsize=(10, 5))
    for i, s in enumerate(sweeps):
        color = f"C{i}"
        pts = sorted(s.points, key=s.rate)
        ax.plot([s.rate(p) for p in pts], [100 * _num(p.get("attainment")) for p in pts], "-", color=color,
                alpha=0.5)
        for verdict, marker in MARKERS.items():
            sel = [p for p in pts if p.get("verdict") == verdict]
            if sel:
                ax.scatter([s.rate(p) for p in sel], [100 * _num(p.get("attainment")) for p in sel],
                           marker=marker, color=color, label=f"{s.name}: {verdict}")
        c = _num(s.cap.get("offered_rate"))
        if not math.isnan(c):
            ax.axvline(c, color=color, linestyle=":", label=f"{s.name} capacity {c:.2f} req/s")
    ax.axhline(100 * sweeps[0].target, color="k", linestyle="--", linewidth=1,
               label=f"target {100 * sweeps[0].target:.0f}%")
    _rate_axis(ax, sweeps)
    ax.set_xlabel("offered rate (req/s)")
    ax.set_ylabel("requests meeting every SLO (%)")
    ax.set_ylim(-2, 102)
    ax.set_title("SLO attainment against offered load")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return hr.save_figure(fig, out, "sweep_attainment.png")


def _fmt(v, d=2):
    return "n/a" if not isinstance(v, (int, float)) or math.isnan(v) else f"{v:.{d}f}"


def _sweep_section(s):
    cap = s.cap
    head = (f"<h2>{html.escape(s.name)}</h2><p>capacity: <b>{'x ' + _fmt(cap.get('x'), 4) if cap.get('x') else 'none'}"
            f"</b>, offered {_fmt(cap.get('offered_rate'))} req/s; next point up "
            f"{_fmt(cap.get('above_x'), 4)} ({html.escape(str(cap.get('above_verdict', '-')))}); "
            f"{html.escape(str(cap.get('status', '')))}. Points run {s.doc.get('points_run', '?')}, "
            f"wall time {_fmt(s.doc.get('wall_s'), 1)} s.</p>")
    cols = [("x", "x", 4), ("offered (req/s)", "offered_rate", 2), ("achieved", "achieved_rate", 2),
            ("attainment %", "attainment", 1), ("goodput", "goodput", 2), ("TTFT p50", "median_ttft_ms", 1),
            ("TTFT p99", "p99_ttft_ms", 1), ("TPOT p99", "p99_tpot_ms", 1), ("ITL p99", "p99_itl_ms", 1),
            ("E2E p99", "p99_e2el_ms", 1), ("failed", "failed", 0)]
    rows = "".join(
        "<tr>" + "".join(f"<td>{_fmt(100 * p[k] if k == 'attainment' and isinstance(p.get(k), (int, float)) else p.get(k), d)}</td>"
                         for _, k, d in cols)
        + f"<td>{html.escape(str(p.get('client')))}</td><td>{html.escape(str(p.get('verdict')))}"
        + (" (stopped early)" if p.get("stopped_early") else "") + "</td></tr>"
        for p in sorted(s.points, key=lambda p: _num(p.get("x"))))
    return (head + "<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c, _, _ in cols)
            + "<th>client</th><th>verdict</th></tr>" + rows + "</table>")


def write_html(sweeps, pngs, out, title):
    ratio = ""
    if len(sweeps) == 2:
        a, b = (_num(s.cap.get("offered_rate")) for s in sweeps)
        if not math.isnan(a) and not math.isnan(b) and a > 0:
            ratio = (f"<p>capacity ratio {html.escape(sweeps[1].name)} / {html.escape(sweeps[0].name)}: "
                     f"<b>{b / a:.3f}</b></p>")
    return hr.write_report(out, title, ratio + "".join(_sweep_section(s) for s in sweeps), pngs)


def plot(paths, out, title=None, names=None):
    """Reads the sweeps, writes the plots and report.html into out; returns
    the files written."""
    sweeps = [Sweep(p, names[i] if names else None) for i, p in enumerate(paths)]
    os.makedirs(out, exist_ok=True)
    pngs = [plot_latency(sweeps, out), plot_attainment(sweeps, out)]
    h = write_html(sweeps, pngs, out, title or "sagellm-bench sweep: " + ", ".join(s.name for s in sweeps))
    return pngs + [h]
