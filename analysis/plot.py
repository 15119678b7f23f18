#!/usr/bin/python3
"""plot.py — plots and a self-contained HTML report of sagellm-bench runs.

    python3 analysis/plot.py RUN_DIR [RUN_DIR ...] -o OUT [--title T] [--interval S]

Writes into OUT:
    cdf_ttft.png cdf_tpot.png cdf_itl.png cdf_e2el.png
                        latency CDFs, the runs overlaid
    timeseries.png      request rate, completions, TTFT p50/p99 and requests in
                        flight per interval, the runs overlaid
    send_lag.png        each request's send lag against its send time
    tokens_ttft.png     input tokens against TTFT
    server_metrics.png  the server's own metrics over time (only when a run has
                        server_metrics.jsonl)
    report.html         the summary tables and every plot, embedded as data:
                        URIs, so the file stands alone

A run is a directory written by `sagellm-bench replay --out DIR` (or its
requests.jsonl). Given sweep directories (`sagellm-bench sweep --out DIR`,
one or two), it draws latency percentiles and SLO attainment against the
offered load instead (sweep_plot.py: sweep_latency.png,
sweep_attainment.png and report.html). Exit status: 0 ok, 2 usage, 3 malformed input (the message
names file, line and field), 4 a file that cannot be read or written.

Uses the standard library, numpy and matplotlib (Agg backend) only.
"""

import argparse
import html
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import html_report as hr  # noqa: E402
import sagellm_runs as sr  # noqa: E402
import sweep_plot  # noqa: E402

CDF_METRICS = (("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "ITL"), ("e2el", "E2E latency"))
CDF_POINTS = 4000       # a CDF of more values is drawn through this many quantiles
SCATTER_POINTS = 20000  # scatter plots of more requests show every k-th one

# Rows of the HTML summary table: (label, summary.json key, decimals).
SUMMARY_ROWS = [
    ("Successful requests", "completed", 0), ("Failed requests", "failed", 0),
    ("Duration (s)", "duration", 2), ("Total input tokens", "total_input_tokens", 0),
    ("Total generated tokens", "total_output_tokens", 0),
    ("Request throughput (req/s)", "request_throughput", 2),
    ("Request goodput (req/s)", "request_goodput", 2),
    ("Output token throughput (tok/s)", "output_throughput", 2),
    ("Total token throughput (tok/s)", "total_token_throughput", 2),
    ("Achieved rate (req/s)", "achieved_rate", 2), ("Trace rate (req/s)", "trace_rate", 2),
    ("Max concurrency", "max_concurrency", 0),
] + [(f"{s.capitalize() if s != 'p90' and s != 'p99' else s.upper()} {m.upper()} (ms)", f"{s}_{m}_ms", 2)
     for m in ("ttft", "tpot", "itl", "e2el") for s in ("mean", "median", "p90", "p99")] + [
    ("P50 send lag (us)", "send_lag_p50_us", 1), ("P99 send lag (us)", "send_lag_p99_us", 1),
    ("Max send lag (us)", "send_lag_max_us", 1),
    ("Short outputs (below forced length)", "short_outputs", 0),
    ("Requests with engine times", "engine_requests", 0),
] + [(f"{s.capitalize() if s[0] != 'p' else s.upper()} engine {m.upper() if m in ('ttft', 'tpot') else m} (ms)",
      f"{s}_engine_{m}_ms", 2)
     for m in ("ttft", "tpot", "queue", "prefill", "decode") for s in ("mean", "median", "p90", "p99")]

# Rows whose unit is the token count basis: labels when the counts are
# chunks (token_source "chunks": the server sent no usage) or mixed.
CHUNK_LABELS = {
    "total_output_tokens": ("Total generated chunks (no usage)", "Total generated tokens or chunks"),
    "output_throughput": ("Output chunk throughput (chunk/s)", "Output token or chunk throughput (/s)"),
    "total_token_throughput": ("Total in tok + out chunk (/s)", "Total token or chunk throughput (/s)"),
}


def expected_files(runs):
    """The PNG files plot() writes for these runs, in report order."""
    files = [f"cdf_{m}.png" for m, _ in CDF_METRICS]
    files += ["timeseries.png", "send_lag.png", "tokens_ttft.png"]
    if any(r.server_metrics for r in runs):
        files.append("server_metrics.png")
    return files


def _no_data(ax, what="no data"):
    ax.text(0.5, 0.5, what, ha="center", va="center", transform=ax.transAxes, color="gray")


def plot_cdf(runs, metric, label, out):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    drawn = False
    for r in runs:
        v = np.sort(r.metric(metric))
        if not len(v):
            continue
        n = len(v)
        if n > CDF_POINTS:  # the empirical CDF through evenly spaced ranks: the same curve
            idx = np.unique(np.linspace(0, n - 1, CDF_POINTS).astype(np.int64))
            x, y = v[idx], (idx + 1) / n
        else:
            x, y = v, np.arange(1, n + 1) / n
        ax.step(x, y, where="post", label=f"{r.name} (n={n}, p50 {np.median(v):.3g} ms)")
        drawn = True
    ax.set_xlabel(f"{label} (ms)")
    ax.set_ylabel("fraction of values ≤ x")
    ax.set_title(f"{label}: cumulative distribution")
    ax.grid(True, alpha=0.3)
    if drawn:
        ax.legend(fontsize=8, loc="lower right")
        lo = min(float(np.min(r.metric(metric))) for r in runs if len(r.metric(metric)))
        hi = max(float(np.max(r.metric(metric))) for r in runs if len(r.metric(metric)))
        if lo > 0 and hi / lo > 100:
            ax.set_xscale("log")
    else:
        _no_data(ax, f"no {label} values (no completed request has one)")
    return hr.save_figure(fig, out, f"cdf_{metric}.png")


def plot_timeseries(runs, out, interval_ns):
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex=True)
    (a_rate, a_ttft), (a_done, a_fly) = axes
    for r in runs:
        ts = sr.timeseries(r, interval_ns)
        if not len(ts["t"]):
            continue
        a_rate.step(ts["t"], ts["rate"], where="post", label=r.name)
        a_done.step(ts["t"], ts["done"], where="post", label=r.name)
        line, = a_ttft.plot(ts["t"], ts["ttft_p50"], marker=".", label=f"{r.name} p50")
        a_ttft.plot(ts["t"], ts["ttft_p99"], marker=".", linestyle="--", color=line.get_color(),
                    label=f"{r.name} p99")
        a_fly.plot(ts["t"], ts["in_flight"], label=r.name)
    a_rate.set_title("requests sent (per s)")
    a_done.set_title("requests completed (per s)")
    a_ttft.set_title("TTFT of the requests sent (ms)")
    a_fly.set_title("requests in flight (mean over the interval)")
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        else:
            _no_data(ax)
    for ax in axes[1]:
        ax.set_xlabel("time since the run's start (s)")
    fig.suptitle("Over time, beside the request rate")
    return hr.save_figure(fig, out, "timeseries.png")


def _thin(n):
    """A step k so that every k-th of n points is at most SCATTER_POINTS."""
    return max(1, math.ceil(n / SCATTER_POINTS))


def plot_send_lag(runs, out):
    fig, ax = plt.subplots(figsize=(9, 4))
    drawn = False
    for r in runs:
        m = ~np.isnan(r.t_sched) & ~np.isnan(r.t_send)
        if not m.any():
            continue
        late, p99 = r.late()
        k = _thin(int(m.sum()))
        ax.plot(r.t_sched[m][::k] / 1e9, (r.t_send[m] - r.t_sched[m])[::k] / 1e3, ".", markersize=3,
                label=f"{r.name} (p99 {p99:.0f} us{', LATE' if late else ''}{f', every {k}th shown' if k > 1 else ''})")
        drawn = True
    ax.axhline(sr.LATE_US, color="red", linestyle=":", linewidth=1, label="1 ms: late above")
    ax.set_xlabel("scheduled send time (s)")
    ax.set_ylabel("send lag (us)")
    ax.set_title("Send lag: how late each request went out")
    ax.grid(True, alpha=0.3)
    if drawn:
        ax.set_yscale("symlog", linthresh=100)
        ax.legend(fontsize=8)
    else:
        _no_data(ax, "no request has both t_sched_ns and t_send_ns")
    return hr.save_figure(fig, out, "send_lag.png")


def plot_tokens_ttft(runs, out):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn = False
    for r in runs:
        m = r.ok & ~np.isnan(r.t_first) & ~np.isnan(r.input_tokens)
        if not m.any():
            continue
        k = _thin(int(m.sum()))
        ax.plot(r.input_tokens[m][::k], ((r.t_first[m] - r.t_send[m]) / 1e6)[::k], ".", markersize=3, alpha=0.6,
                label=r.name + (f" (every {k}th shown)" if k > 1 else ""))
        drawn = True
    ax.set_xlabel("input tokens (server's prompt_tokens, else the trace's)")
    ax.set_ylabel("TTFT (ms)")
    ax.set_title("Input length against time to first token")
    ax.grid(True, alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    else:
        _no_data(ax, "no completed request with a token count and a first token")
    return hr.save_figure(fig, out, "tokens_ttft.png")


def plot_server_metrics(runs, out):
    per_run = [(r, sr.server_series(r)) for r in runs if r.server_metrics]
    titles = []
    for _, series in per_run:
        for title, _, _ in series:
            if title not in titles:
                titles.append(title)
    titles = titles[:8]
    n = max(1, len(titles))
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(11, 2.8 * rows), squeeze=False, sharex=True)
    for i, title in enumerate(titles):
        ax = axes[i // cols][i % cols]
        for r, series in per_run:
            for t, tt, vals in series:
                if t == title:
                    ax.plot(tt, vals, label=r.name)
        ax.set_title(title, fontsize=9)
        ax.grid(True, alpha=0.3)
        if len(per_run) > 1:
            ax.legend(fontsize=7)
    for j in range(len(titles), rows * cols):
        ax = axes[j // cols][j % cols]
        if titles:
            ax.axis("off")
        else:
            _no_data(ax, "server_metrics.jsonl holds no series that changes")
    for ax in axes[-1]:
        ax.set_xlabel("time since the run's start (s)")
    fig.suptitle("The server's own metrics (server_metrics.jsonl)")
    return hr.save_figure(fig, out, "server_metrics.png")


def _fmt(v, d):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:,.{d}f}"


def _summary_table(runs):
    sums = [r.summary() for r in runs]
    head = "".join(f"<th>{html.escape(r.name)}</th>" for r in runs)
    rows = []
    sources = {s.get("token_source") for s in sums}
    for label, key, d in SUMMARY_ROWS:
        if all(s.get(key) is None for s in sums) and (key.startswith("short_") or "engine" in key):
            continue
        if all(key not in s for s in sums):
            continue
        if key in CHUNK_LABELS and sources & {"chunks", "mixed"}:
            label = CHUNK_LABELS[key][0 if sources == {"chunks"} else 1]
        cells = "".join(f"<td>{_fmt(s.get(key), d)}</td>" for s in sums)
        rows.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _errors_table(runs):
    classes = sorted({c for r in runs for c in r.errors})
    if not classes:
        return "<p>No request failed.</p>"
    head = "".join(f"<th>{html.escape(r.name)}</th>" for r in runs)
    rows = "".join(f"<tr><th>{html.escape(c)}</th>" + "".join(f"<td>{r.errors.get(c, 0)}</td>" for r in runs)
                   + "</tr>" for c in classes)
    return f"<table><tr><th>error class</th>{head}</tr>{rows}</table>"


def _runs_list(runs):
    items = []
    for r in runs:
        m = r.manifest or {}
        bits = [f"<b>{html.escape(r.name)}</b>: {html.escape(r.log)}"]
        for k in ("client", "url", "engine", "trace", "trace_digest", "speed", "start"):
            if k in m:
                bits.append(f"{k} {html.escape(str(m[k]))}")
        if not r.manifest:
            bits.append("no run.json")
        late, p99 = r.late()
        if late:
            bits.append(f"<span class=warn>the client was late: send lag p99 {p99 / 1e3:.2f} ms &gt; 1 ms</span>")
        items.append("<li>" + "; ".join(bits) + "</li>")
    return "<ul>" + "".join(items) + "</ul>"


def write_html(runs, pngs, out, title):
    warn = "".join(f"<p class=warn>WARNING: run {html.escape(r.name)}'s client was late "
                   f"(send lag p99 {r.late()[1] / 1e3:.2f} ms): latencies from the send leave that wait out.</p>"
                   for r in runs if r.late()[0])
    body = (f"{warn}\n<h2>Runs</h2>\n{_runs_list(runs)}\n<h2>Summary</h2>\n{_summary_table(runs)}\n"
            f"<h2>Errors</h2>\n{_errors_table(runs)}")
    return hr.write_report(out, title, body, pngs)


def plot(paths, out, title=None, interval_ns=None, names=None):
    """Reads the runs, writes every plot and report.html into out; returns
    the list of files written."""
    runs = []
    for i, p in enumerate(paths):
        runs.append(sr.Run(p, names[i] if names else None))
    seen = {}
    for r in runs:  # two runs called "run" become "run", "run#2"
        seen[r.name] = seen.get(r.name, 0) + 1
        if seen[r.name] > 1:
            r.name = f"{r.name}#{seen[r.name]}"
    os.makedirs(out, exist_ok=True)
    pngs = [plot_cdf(runs, m, label, out) for m, label in CDF_METRICS]
    pngs.append(plot_timeseries(runs, out, interval_ns))
    pngs.append(plot_send_lag(runs, out))
    pngs.append(plot_tokens_ttft(runs, out))
    if any(r.server_metrics for r in runs):
        pngs.append(plot_server_metrics(runs, out))
    html_path = write_html(runs, pngs, out, title or "sagellm-bench report: " + ", ".join(r.name for r in runs))
    return pngs + [html_path]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="plot.py", description="Plots and an HTML report of sagellm-bench runs.")
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or their requests.jsonl)")
    ap.add_argument("-o", "--out", required=True, help="output directory (created)")
    ap.add_argument("--title", help="title of report.html")
    ap.add_argument("--interval", type=float, help="time-series interval in seconds (default: as report)")
    ap.add_argument("--names", help="comma-separated names for the runs (default: directory names)")
    a = ap.parse_args(argv)
    names = a.names.split(",") if a.names else None
    if names and len(names) != len(a.runs):
        ap.error("--names needs one name per run")
    if a.interval is not None and not a.interval > 0:
        ap.error("--interval needs a positive number of seconds")
    sweeps = [sweep_plot.is_sweep(p) for p in a.runs]
    if any(sweeps) and not all(sweeps):
        ap.error("give runs or sweeps, not both")
    try:
        if all(sweeps):
            files = sweep_plot.plot(a.runs, a.out, a.title, names)
        else:
            files = plot(a.runs, a.out, a.title, a.interval * 1e9 if a.interval else None, names)
    except (sr.InputError, sweep_plot.InputError) as e:
        print(f"plot.py: {e}", file=sys.stderr)
        return 3
    except OSError as e:
        print(f"plot.py: {e}", file=sys.stderr)
        return 4
    print(f"plot.py: wrote {len(files)} files to {a.out} (open {os.path.join(a.out, 'report.html')})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
