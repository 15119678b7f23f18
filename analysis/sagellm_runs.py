"""sagellm_runs.py — reads sagellm-bench run directories for the plots.

A run directory (``sagellm-bench replay ... --out DIR``) holds
``requests.jsonl`` (one JSON object per request), ``summary.json``,
``run.json`` and, with ``--scrape-metrics``, ``server_metrics.jsonl``.
The field definitions are in docs/metrics.md; this module follows them:
latencies come from the integer nanosecond fields (never the rounded
``*_ms`` ones), warm-up requests are left out, latencies are over completed
requests, and ITL is per token when the record has ``gap_tokens`` (a gap of
g closed by an event carrying k tokens counts as k gaps of g/k; a gap with
k = 0 is carried into the next; zero-token gaps at the end are dropped).

Percentiles use numpy's default (linear) method, as summary.json does, so
the figures here agree with the C summary (means and standard deviations to
rounding: numpy sums pairwise, the C code with compensated summation).

Standard library and numpy only (matplotlib is imported by plot.py).
"""

import json
import math
import os
import re
from array import array

import numpy as np

LATE_US = 1000.0  # send lag p99 above this: the client was late (as replay and report say)
MAX_INT = 2 ** 53  # larger integers do not survive a double (the C side refuses them too)


class InputError(Exception):
    """Malformed input; the message names the file, the line and the field."""


def _int_field(rec, key, where, required=False):
    """An integer field of a record, or None when absent or null."""
    v = rec.get(key)
    if v is None:
        if required:
            raise InputError(f"{where}: field \"{key}\": missing")
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v != math.floor(v) \
            or abs(v) > MAX_INT:
        raise InputError(f"{where}: field \"{key}\": expected an integer, got {json.dumps(v)[:40]}")
    return int(v)


def _int_list(rec, key, where):
    """A list of integers >= 0, or None when absent or null."""
    v = rec.get(key)
    if v is None:
        return None
    if not isinstance(v, list):
        raise InputError(f"{where}: field \"{key}\": expected an array")
    for i, x in enumerate(v):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) \
                or x != math.floor(x) or not 0 <= x <= MAX_INT:
            raise InputError(f"{where}: {key}[{i}]: expected an integer >= 0")
    return v


def itl_values(rec, where="record"):
    """The per-token (or per-chunk) ITL values of one completed record, in ns."""
    gaps = _int_list(rec, "gaps_ns", where) or []
    toks = _int_list(rec, "gap_tokens", where)
    if toks is None:
        return [float(g) for g in gaps]
    if len(toks) != len(gaps):
        raise InputError(f"{where}: field \"gap_tokens\": expected an array as long as gaps_ns")
    out, carry = [], 0
    for g, k in zip(gaps, toks):
        if k == 0:
            carry += g
            continue
        per = (g + carry) / k
        carry = 0
        out.extend([per] * int(k))
    return out


def _shard_dirs(path):
    """The shard-K-of-N/ run directories under path, in shard order, or None
    when there are none; InputError naming a missing or unfinished shard."""
    found = {}
    for e in os.listdir(path):
        m = re.fullmatch(r"shard-(\d+)-of-(\d+)", e)
        if m and os.path.isdir(os.path.join(path, e)):
            found[(int(m.group(1)), int(m.group(2)))] = os.path.join(path, e)
    if not found:
        return None
    ns = {n for _, n in found}
    if len(ns) != 1:
        raise InputError(f"{path}: shards of different replays ({sorted(ns)} shards)")
    n = ns.pop()
    bad = []
    for k in range(1, n + 1):
        d = found.get((k, n))
        if d is None:
            bad.append(f"shard {k} of {n} is missing")
        elif not os.path.exists(os.path.join(d, "run.json")):
            bad.append(f"shard {k} of {n} did not finish ({d} has no run.json)")
    if bad:
        raise InputError(f"{path}: " + "; ".join(bad))
    return [found[(k, n)] for k in range(1, n + 1)]


class Run:
    """One run: its per-request columns (numpy arrays over measured
    requests), ITL values, manifest, saved summary and server metrics."""

    def __init__(self, path, name=None):
        self.shards = _shard_dirs(path) if os.path.isdir(path) else None
        if self.shards:
            # A sharded replay (DIR/shard-K-of-N/): the shards' logs read as
            # one, in shard order, as `report DIR` does; the first shard's
            # manifest and server metrics.
            self.dir = self.shards[0]
            self.logs = [os.path.join(d, "requests.jsonl") for d in self.shards]
            self.log = path
        elif os.path.isdir(path):
            self.dir = path
            self.log = os.path.join(path, "requests.jsonl")
            self.logs = [self.log]
        else:
            self.dir = os.path.dirname(path) or "."
            self.log = path
            self.logs = [self.log]
        self.name = name or os.path.basename(os.path.normpath(path if self.shards else self.dir))
        self.manifest = self._json_file("run.json")
        if self.shards and self.manifest is not None:
            self.manifest = dict(self.manifest, shards=len(self.shards))
            self.manifest.pop("shard", None)
        self.saved_summary = self._json_file("summary.json")
        self._read_log()
        self.server_metrics = self._read_server_metrics()

    def _json_file(self, name):
        p = os.path.join(self.dir, name)
        if not os.path.exists(p):
            return None
        try:
            with open(p, encoding="utf-8") as f:
                return json.load(f)
        except json.JSONDecodeError as e:
            raise InputError(f"{p}:{e.lineno}: not valid JSON ({e.msg})") from None

    def _read_log(self):
        cols = {k: [] for k in ("index", "ok", "t_sched", "t_send", "t_first", "t_end",
                                "tpot", "input_tokens", "output_tokens")}
        itl = array("d")  # 8 bytes per value: a long run has tens of millions
        self.errors = {}
        self.warmup = 0
        for log in self.logs:
            self._read_one(log, cols, itl)
        self.index = np.array(cols["index"], dtype=np.int64)
        self.ok = np.array(cols["ok"], dtype=bool)
        # Times as float64 ns: exact below 2^53 ns (104 days).
        for k in ("t_sched", "t_send", "t_first", "t_end", "input_tokens", "output_tokens"):
            setattr(self, k, np.array(cols[k], dtype=np.float64))
        self.tpot_ns = np.array(cols["tpot"], dtype=np.float64)
        self.itl_ns = np.frombuffer(itl, dtype=np.float64) if len(itl) else np.zeros(0)

    def _read_one(self, log, cols, itl):
        try:
            f = open(log, encoding="utf-8")
        except OSError as e:
            raise OSError(f"{log}: cannot open: {e.strerror}") from None
        with f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{log}:{lineno}"
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{where}: not a valid JSON object (error at byte {e.pos + 1})") from None
                if not isinstance(rec, dict):
                    raise InputError(f"{where}: expected a JSON object")
                if rec.get("warmup") is True:
                    self.warmup += 1
                    continue
                ok = rec.get("ok")
                if not isinstance(ok, bool):
                    raise InputError(f"{where}: field \"ok\": expected true or false")
                ts = {k: _int_field(rec, f"t_{k}_ns", where, required=ok and k in ("send", "end"))
                      for k in ("sched", "send", "first_token", "last_token", "end")}
                out = _int_field(rec, "output_tokens", where, required=ok)
                tpot = math.nan
                events = _int_field(rec, "events", where)
                nch = _int_field(rec, "n", where)
                # summary.c's rule: per choice when n > 1; no TPOT when every
                # token came in one event
                per = out / nch if out is not None and nch is not None and nch > 1 else out
                if ok and per is not None and per > 1 and ts["first_token"] is not None \
                        and ts["last_token"] is not None and ts["last_token"] > ts["first_token"] \
                        and (events is None or events > 1):
                    tpot = (ts["last_token"] - ts["first_token"]) / (per - 1)
                prompt = _int_field(rec, "prompt_tokens", where)
                if prompt is None:
                    prompt = _int_field(rec, "input_tokens", where)
                ix = _int_field(rec, "index", where)
                nan = math.nan
                cols["index"].append(-1 if ix is None else ix)
                cols["ok"].append(ok)
                cols["t_sched"].append(nan if ts["sched"] is None else ts["sched"])
                cols["t_send"].append(nan if ts["send"] is None else ts["send"])
                cols["t_first"].append(nan if ts["first_token"] is None else ts["first_token"])
                cols["t_end"].append(nan if ts["end"] is None else ts["end"])
                cols["tpot"].append(tpot)
                cols["input_tokens"].append(nan if prompt is None else prompt)
                cols["output_tokens"].append(nan if out is None else out)
                if ok:
                    itl.extend(itl_values(rec, where))
                else:
                    err = rec.get("error") or {}
                    if not isinstance(err, dict):
                        raise InputError(f"{where}: field \"error\": expected an object or null")
                    cls = err.get("class")
                    if cls is not None and not isinstance(cls, str):
                        raise InputError(f"{where}: field \"error.class\": expected a string")
                    cls = cls or "unknown"
                    self.errors[cls] = self.errors.get(cls, 0) + 1

    def _read_server_metrics(self):
        p = os.path.join(self.dir, "server_metrics.jsonl")
        if not os.path.exists(p):
            return None
        rows = []
        with open(p, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{p}:{lineno}: not a valid JSON object (error at byte {e.pos + 1})") from None
                if not isinstance(rec, dict) or not isinstance(rec.get("t_ns"), (int, float)) \
                        or not isinstance(rec.get("metrics"), dict):
                    raise InputError(f"{p}:{lineno}: expected {{\"t_ns\": N, \"metrics\": {{...}}}}")
                rows.append(rec)
        return rows

    # ---- per-request metrics (ns), over completed requests ----

    def ttft(self):
        m = self.ok & ~np.isnan(self.t_first)
        return self.t_first[m] - self.t_send[m]

    def tpot(self):
        return self.tpot_ns[self.ok & ~np.isnan(self.tpot_ns)]

    def e2el(self):
        return self.t_end[self.ok] - self.t_send[self.ok]

    def send_lag(self):
        m = ~np.isnan(self.t_sched) & ~np.isnan(self.t_send)
        return self.t_send[m] - self.t_sched[m]

    def metric(self, name):
        """ttft, tpot, itl or e2el values in ms."""
        v = {"ttft": self.ttft, "tpot": self.tpot, "e2el": self.e2el}.get(name)
        return (self.itl_ns if name == "itl" else v()) / 1e6

    def summary(self):
        """The run's summary.json when it has one, else compute_summary()."""
        return self.saved_summary if self.saved_summary is not None else compute_summary(self)

    def late(self):
        """(late, p99 send lag in us) by the rule report uses."""
        lag = self.send_lag()
        if not len(lag):
            return False, math.nan
        p99 = float(np.percentile(lag, 99)) / 1e3
        return p99 > LATE_US, p99


def _stats(values_ns, key, out):
    for stat in ("mean", "median", "std", "p90", "p99"):
        out[f"{stat}_{key}_ms"] = None
    if not len(values_ns):
        return
    v = np.asarray(values_ns, dtype=np.float64)
    out[f"mean_{key}_ms"] = float(np.mean(v)) / 1e6
    out[f"median_{key}_ms"] = float(np.median(v)) / 1e6
    out[f"std_{key}_ms"] = float(np.std(v)) / 1e6
    out[f"p90_{key}_ms"] = float(np.percentile(v, 90)) / 1e6
    out[f"p99_{key}_ms"] = float(np.percentile(v, 99)) / 1e6


def compute_summary(run):
    """The main keys of summary.json computed with numpy (for logs without a
    summary.json beside them, and to cross-check the C summary)."""
    s = {"completed": int(run.ok.sum()), "failed": int((~run.ok).sum())}
    both = ~np.isnan(run.t_send) & ~np.isnan(run.t_end)
    dur = (run.t_end[both].max() - run.t_send[both].min()) / 1e9 if both.any() else None
    s["duration"] = dur
    s["total_output_tokens"] = int(np.nansum(run.output_tokens[run.ok]))
    s["total_input_tokens"] = int(np.nansum(run.input_tokens[run.ok]))
    rate = dur is not None and dur > 0
    s["request_throughput"] = s["completed"] / dur if rate else None
    s["output_throughput"] = s["total_output_tokens"] / dur if rate else None
    s["total_token_throughput"] = (s["total_input_tokens"] + s["total_output_tokens"]) / dur if rate else None
    for key, vals in (("ttft", run.ttft()), ("tpot", run.tpot()), ("itl", run.itl_ns), ("e2el", run.e2el())):
        _stats(vals, key, s)
    lag = run.send_lag()
    s["send_lag_p50_us"] = float(np.percentile(lag, 50)) / 1e3 if len(lag) else None
    s["send_lag_p99_us"] = float(np.percentile(lag, 99)) / 1e3 if len(lag) else None
    s["send_lag_max_us"] = float(lag.max()) / 1e3 if len(lag) else None
    s["errors"] = dict(sorted(run.errors.items()))
    s["warmup_excluded"] = run.warmup
    return s


def auto_interval(span_ns, target=60):
    """The round interval (ns) report picks: at most `target` intervals."""
    for ms in (100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000,
               300000, 600000, 900000, 1800000, 3600000, 7200000, 21600000, 86400000):
        if span_ns <= ms * 1e6 * target:
            return ms * 1e6
    return (span_ns // target // 86400e9 + 1) * 86400e9


def timeseries(run, interval_ns=None):
    """Per interval (from the run's start): start (s), requests sent per
    second, completions per second, TTFT p50/p99 (ms) of the requests sent,
    mean requests in flight. Returns a dict of numpy arrays."""
    send = run.t_send[~np.isnan(run.t_send)]
    end = run.t_end[~np.isnan(run.t_end)]
    if not len(send):
        return {k: np.array([]) for k in ("t", "rate", "done", "ttft_p50", "ttft_p99", "in_flight")}
    lo = min(0.0, float(send.min()))
    hi = float(max(end.max() if len(end) else send.max(), send.max()))
    w = interval_ns or auto_interval(max(hi - lo, 1))
    if (hi - lo) / w >= 100000:  # as report: at most 100,000 intervals
        w *= (hi - lo) // w // 99999 + 1
    nb = max(1, int(math.ceil((hi - lo) / w)))
    edges = lo + w * np.arange(nb + 1)
    sent, _ = np.histogram(send, bins=edges)
    done, _ = np.histogram(run.t_end[run.ok], bins=edges)
    ttft_t = run.t_send[run.ok & ~np.isnan(run.t_first)]
    ttft_v = run.ttft()
    slot = np.minimum(((ttft_t - lo) // w).astype(np.int64), nb - 1) if len(ttft_t) else ttft_t
    p50 = np.full(nb, np.nan)
    p99 = np.full(nb, np.nan)
    for b in range(nb):
        v = ttft_v[slot == b]
        if len(v):
            p50[b] = np.percentile(v, 50) / 1e6
            p99[b] = np.percentile(v, 99) / 1e6
    busy = np.zeros(nb)
    m = ~np.isnan(run.t_send) & ~np.isnan(run.t_end)
    for a, b in zip(run.t_send[m], run.t_end[m]):
        k0, k1 = int((a - lo) // w), min(int((b - lo) // w), nb - 1)
        for k in range(k0, k1 + 1):
            busy[k] += max(0.0, min(b, edges[k + 1]) - max(a, edges[k]))
    return {"t": (edges[:-1]) / 1e9, "rate": sent / (w / 1e9), "done": done / (w / 1e9),
            "ttft_p50": p50, "ttft_p99": p99, "in_flight": busy / w}


def server_series(run, limit=8):
    """Server metrics over time: [(title, t_seconds, values)], at most
    `limit`. Label sets of one metric are summed; gauges are shown as they
    are, counters (*_total) as rates per second; histogram parts
    (_sum/_count/_bucket) and constant series are left out."""
    rows = run.server_metrics or []
    if len(rows) < 2:
        return []
    t = np.array([r["t_ns"] for r in rows], dtype=np.float64) / 1e9
    series = {}
    for i, r in enumerate(rows):
        for k, v in r["metrics"].items():
            base = k.split("{", 1)[0]
            if base.endswith(("_sum", "_count", "_bucket", "_created")) or not isinstance(v, (int, float)):
                continue
            a = series.setdefault(base, np.zeros(len(rows)))
            a[i] += v
    out = []
    for name in sorted(series, key=lambda n: (n.endswith("_total"), n)):
        v = series[name]
        if name.endswith("_total"):
            dt = np.diff(t)
            dt[dt <= 0] = np.nan
            vals, tt, title = np.diff(v) / dt, t[1:], f"{name} (per s)"
        else:
            vals, tt, title = v, t, name
        if np.nanmax(vals) == np.nanmin(vals):
            continue
        out.append((title, tt, vals))
        if len(out) >= limit:
            break
    return out
