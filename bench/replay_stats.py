#!/usr/bin/env python3
"""replay_stats.py — figures for bench/replay.sh from a replay's run directory
(requests.jsonl, run.json) and bench/replay_probe.c's samples. Standard
library only. Each command prints one line of key=value pairs.

  lag DIR                 send lag p50/p99/max (us) over every sent request,
                          and the same over requests that reused a connection
  drift DIR BIN_S         send lag per BIN_S-second slice of the schedule:
                          one line per slice, then first vs last
  events DIR              requests, content events, SSE events received
  phases DIR SAMPLES TCK  CPU while replaying, without start-up and summary
                          (TCK: clock ticks per second of the samples' CPU)
  inflight DIR SAMPLES    RSS against streams in flight at each sample
  progress DIR SAMPLES    RSS at 10/50/90% of completions, peak while
                          replaying, peak in the summary phase after it
  gt FILE [SKIP]          the server's view from `serve --ground-truth FILE`
                          (streamed requests that ended ok, after the first
                          SKIP by arrival): TTFT = first content event sent -
                          request headers received, ITL = the gaps between
                          content events sent, p50/p99 in ms
  added FILE CLIENT       per request, the client's TTFT (CLIENT: JSON lines
                          with "ttft_ms" and the X-Request-Id sent: "index"
                          in the replay's requests.jsonl, else "id") minus
                          the server's TTFT for the same request (FILE: the
                          ground truth, by the X-Request-Id it saw): p50/p99
                          in us

Percentiles: linear interpolation between closest ranks (numpy's default),
as the replay's own summary computes them."""
import bisect
import json
import sys


def pct(v, p):
    """Percentile p (0..100) of the sorted list v."""
    if not v:
        return float("nan")
    r = p / 100.0 * (len(v) - 1)
    lo = int(r)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (r - lo) * (v[hi] - v[lo])


def records(d, fields):
    """Yields, per request of DIR/requests.jsonl, a tuple of the fields."""
    with open(d + "/requests.jsonl") as f:
        for line in f:
            r = json.loads(line)
            yield tuple(r.get(k) for k in fields)


def start_mono(d):
    with open(d + "/run.json") as f:
        return int(json.load(f)["start_monotonic_ns"])


def samples(path):
    """(t_mono_ns, rss_kb, fds, cpu_ticks) per line of replay_probe's samples."""
    out = []
    with open(path) as f:
        for line in f:
            v = [int(x) for x in line.split()]
            out.append((v[0], v[1], v[2], v[3] if len(v) > 3 else -1))
    return out


def cmd_lag(d):
    lag, reused, ok, n = [], [], 0, 0
    for l, c, good in records(d, ("send_lag_us", "connect_ns", "ok")):
        n += 1
        ok += bool(good)
        if l is None:
            continue
        lag.append(l)
        if not c:
            reused.append(l)
    lag.sort()
    reused.sort()
    print("n=%d ok=%d sent=%d new_conn=%d p50_us=%.1f p99_us=%.1f max_us=%.1f "
          "reused_p50_us=%.1f reused_p99_us=%.1f" %
          (n, ok, len(lag), len(lag) - len(reused), pct(lag, 50), pct(lag, 99), lag[-1] if lag else 0,
           pct(reused, 50), pct(reused, 99)))


def cmd_drift(d, bin_s):
    bins = {}
    for ts, l in records(d, ("t_sched_ns", "send_lag_us")):
        if l is not None:
            bins.setdefault(int(ts // (bin_s * 1e9)), []).append(l)
    keys = sorted(bins)
    rows = []
    for k in keys:
        v = sorted(bins[k])
        rows.append((k, len(v), pct(v, 50), pct(v, 99), v[-1], sum(v) / len(v)))
        print("slice=%d from_s=%d n=%d p50_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f" %
              (k, k * bin_s, *rows[-1][1:]))
    if rows:
        f, la = rows[0], rows[-1]
        print("first_p50_us=%.1f first_p99_us=%.1f last_p50_us=%.1f last_p99_us=%.1f "
              "first_mean_us=%.1f last_mean_us=%.1f slices=%d" %
              (f[2], f[3], la[2], la[3], f[5], la[5], len(rows)))


def cmd_events(d):
    n = ok = content = 0
    for good, ev in records(d, ("ok", "events")):
        n += 1
        ok += bool(good)
        content += ev or 0
    # The built-in server frames each stream as: a role-only chunk, one chunk
    # per content event, a usage chunk, [DONE].
    print("requests=%d ok=%d content_events=%d sse_events=%d" % (n, ok, content, content + 3 * ok))


def cmd_phases(d, spath, tck):
    """CPU of the replay while requests were being sent and answered (from
    the last sample before the first send to the first sample after the
    last response), apart from start-up and the summary at the end."""
    t0 = start_mono(d)
    first = last = None
    n = 0
    for ts, te in records(d, ("t_send_ns", "t_end_ns")):
        n += 1
        if ts is not None:
            first = t0 + ts if first is None else min(first, t0 + ts)
        if te is not None:
            last = t0 + te if last is None else max(last, t0 + te)
    sm = samples(spath)
    before = [s for s in sm if s[0] <= first]
    # the process may end before a sample follows the last response: then
    # its last sample (the tail of the run is left out)
    after = [s for s in sm if s[0] >= last] or sm[-1:]
    if not before or sm[0][3] < 0:
        print("error=too_few_samples")
        return
    a, b = before[-1], after[0]
    cpu = (b[3] - a[3]) / tck
    print("requests=%d replay_cpu_s=%.3f replay_wall_s=%.3f replay_us_per_req=%.2f" %
          (n, cpu, (b[0] - a[0]) / 1e9, 1e6 * cpu / n))


def cmd_inflight(d, spath):
    t0 = start_mono(d)
    sends, ends, events = [], [], []
    for ts, te, tf, gaps in records(d, ("t_send_ns", "t_end_ns", "t_first_token_ns", "gaps_ns")):
        if ts is None or te is None:
            continue
        k = 0
        if tf is not None:
            t = t0 + tf
            events.append(t)
            k = 1
            for g in gaps or []:
                t += g
                events.append(t)
                k += 1
        sends.append(t0 + ts)
        ends.append((t0 + te, k))
    sm = samples(spath)
    if not sends or not sm:
        print("error=no_data")
        return
    sends.sort()
    ends.sort()
    events.sort()
    end_t = [e[0] for e in ends]
    cum, c = [0], 0
    for _, k in ends:
        c += k
        cum.append(c)
    idle = [kb for t, kb, _, _ in sm if t < sends[0]]
    idle_kb = idle[-1] if idle else sm[0][1]
    rows = []
    for t, kb, fds, _ in sm:
        ne = bisect.bisect_right(end_t, t)
        live = bisect.bisect_right(sends, t) - ne
        # tokens held by live streams: every event so far, less those of
        # streams that ended (all of theirs came before their end)
        toks = bisect.bisect_right(events, t) - cum[ne]
        rows.append((t, kb, fds, live, toks))
    peak_live = max(r[3] for r in rows)
    plateau = [r for r in rows if peak_live > 0 and r[3] >= 0.98 * peak_live]
    first, last = plateau[0], plateau[-1]
    per_first = (first[1] - idle_kb) * 1024.0 / first[3]
    per_last = (last[1] - idle_kb) * 1024.0 / last[3]
    per_max = max((r[1] - idle_kb) * 1024.0 / r[3] for r in plateau)
    print("idle_rss_kb=%d peak_inflight=%d plateau_samples=%d plateau_s=%.1f "
          "start_rss_kb=%d start_inflight=%d start_tokens_per_stream=%.1f start_bytes_per_stream=%.0f "
          "end_rss_kb=%d end_inflight=%d end_tokens_per_stream=%.1f end_bytes_per_stream=%.0f "
          "max_bytes_per_stream=%.0f fds_at_peak=%d" %
          (idle_kb, peak_live, len(plateau), (last[0] - first[0]) / 1e9,
           first[1], first[3], first[4] / first[3], per_first,
           last[1], last[3], last[4] / last[3], per_last, per_max,
           max(r[2] for r in plateau)))
    if len(plateau) >= 2 and last[4] != first[4]:
        # RSS growth per token received while the count of streams stays put.
        print("bytes_per_token=%.1f" % ((last[1] - first[1]) * 1024.0 / (last[4] - first[4])))


def cmd_progress(d, spath):
    t0 = start_mono(d)
    ends = sorted(t0 + te for (te,) in records(d, ("t_end_ns",)) if te is not None)
    sm = samples(spath)
    n = len(ends)
    out = ["requests=%d" % n]

    def rss_at(t):
        after = [kb for ts, kb, _, _ in sm if ts >= t]
        return after[0] if after else sm[-1][1]

    for p in (10, 50, 90):
        out.append("rss_%d_kb=%d" % (p, rss_at(ends[min(n - 1, n * p // 100)])))
    during = [kb for ts, kb, _, _ in sm if ts <= ends[-1]]
    after = [kb for ts, kb, _, _ in sm if ts > ends[-1]]
    out.append("peak_replay_kb=%d" % (max(during) if during else 0))
    out.append("peak_summary_kb=%d" % (max(after) if after else 0))
    out.append("replay_s=%.1f summary_s=%.1f" % ((ends[-1] - sm[0][0]) / 1e9,
                                                 (sm[-1][0] - ends[-1]) / 1e9 if after else 0))
    print(" ".join(out))


def gt_ttft_ms(r):
    """A ground-truth request's TTFT as the server saw it: first content
    event sent - request headers received, in ms."""
    return (r["t_first_token_write_ns"] - r["t_arrival_ns"]) / 1e6


def cmd_gt(path, skip):
    ttft, itl, n = [], [], 0
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("type") != "request" or r.get("seq", 0) < skip:
                continue
            if not r.get("stream") or r.get("outcome") != "ok" or r.get("t_first_token_write_ns") is None:
                continue
            n += 1
            ttft.append(gt_ttft_ms(r))
            w = r.get("event_write_ns") or []
            itl.extend((b - a) / 1e6 for a, b in zip(w, w[1:]))
    ttft.sort()
    itl.sort()
    print("requests=%d ttft_p50_ms=%.3f ttft_p99_ms=%.3f itl_p50_ms=%.3f itl_p99_ms=%.3f"
          % (n, pct(ttft, 50), pct(ttft, 99), pct(itl, 50), pct(itl, 99)))


def server_ttft_by_id(path):
    out = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("type") != "request" or r.get("t_first_token_write_ns") is None:
                continue
            rid = r.get("client_request_id")
            if rid is not None:
                out[rid] = gt_ttft_ms(r)
    return out


def cmd_added(gt_path, client_path):
    srv = server_ttft_by_id(gt_path)
    added, unpaired = [], 0
    with open(client_path) as f:
        for line in f:
            r = json.loads(line)
            t = r.get("ttft_ms")
            if t is None:
                continue
            # what the client sent as X-Request-Id: the replay's trace index
            # (its "id" is the record's), vLLM's client's "id"
            s = srv.get(str(r["index"] if "index" in r else r.get("id")))
            if s is None:
                unpaired += 1
                continue
            added.append(1000.0 * (t - s))
    added.sort()
    print("pairs=%d unpaired=%d added_p50_us=%.1f added_p99_us=%.1f added_max_us=%.1f"
          % (len(added), unpaired, pct(added, 50), pct(added, 99), added[-1] if added else float("nan")))


def main(a):
    if len(a) >= 2 and a[0] == "lag":
        cmd_lag(a[1])
    elif len(a) >= 3 and a[0] == "drift":
        cmd_drift(a[1], float(a[2]))
    elif len(a) >= 2 and a[0] == "events":
        cmd_events(a[1])
    elif len(a) >= 4 and a[0] == "phases":
        cmd_phases(a[1], a[2], float(a[3]))
    elif len(a) >= 3 and a[0] == "inflight":
        cmd_inflight(a[1], a[2])
    elif len(a) >= 3 and a[0] == "progress":
        cmd_progress(a[1], a[2])
    elif len(a) >= 3 and a[0] == "added":
        cmd_added(a[1], a[2])
    elif len(a) >= 2 and a[0] == "gt":
        cmd_gt(a[1], int(a[2]) if len(a) > 2 else 0)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
