#!/usr/bin/env python3
"""replay_check.py RUN_DIR GROUND_TRUTH [--expect N] [--faults] [--tolerance-ms T]

Checks a replay's per-request log against the built-in server's ground truth
(tests only). Prints one line per check, "ok"/"FAIL", and exits 1 on failure.

Checks: every scheduled request has exactly one record; every record that
reached the server is paired (X-Request-Id = trace index) with one ground
truth line; token counts are exact; causality (the client sends before the
server receives, and receives after the server hands the bytes out); and the client's
TTFT, E2E and per-event gaps agree with the server's within the tolerance.
With --faults, each request's error class must match the fault the server
injected."""
import json
import sys


def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    args = sys.argv[1:]
    run, gt_path = args[0], args[1]
    expect = int(args[args.index("--expect") + 1]) if "--expect" in args else None
    tol_ms = float(args[args.index("--tolerance-ms") + 1]) if "--tolerance-ms" in args else 50.0
    faults = "--faults" in args
    recs = load(f"{run}/requests.jsonl")
    runj = json.load(open(f"{run}/run.json"))
    t0 = int(runj["start_monotonic_ns"])
    gt_lines = load(gt_path)
    gt = {}
    for g in gt_lines:
        if g.get("type") == "request" and g.get("client_request_id") is not None:
            gt.setdefault(g["client_request_id"], []).append(g)
    bad = []

    def check(name, cond, detail=""):
        print(("ok   " if cond else "FAIL ") + name + ("" if cond else f": {detail}"))
        if not cond:
            bad.append(name)

    idx = [r["index"] for r in recs]
    check("one record per request", len(idx) == len(set(idx)), f"{len(idx) - len(set(idx))} duplicates")
    if expect is not None:
        check(f"{expect} records", len(recs) == expect, f"got {len(recs)}")
    worst = {"ttft": 0.0, "e2e": 0.0, "gap": 0.0}
    problems = []
    fault_mismatch = []
    for r in recs:
        g = gt.get(str(r["index"]))
        if r["t_send_ns"] is None:
            continue
        if not g or len(g) != 1:
            problems.append(f"index {r['index']}: {len(g or [])} ground-truth lines")
            continue
        g = g[0]
        if faults:
            f = g["fault"]
            want = {"none": None, "fail": "http_5xx", "reset": "protocol", "stall": "timeout",
                    "error_in_stream": "stream_error"}[f]
            got = (r["error"] or {}).get("class")
            if got != want:
                fault_mismatch.append(f"index {r['index']}: fault {f}, client {got}")
            if f != "none":
                continue
        if not r["ok"]:
            problems.append(f"index {r['index']}: failed without a fault: {r['error']}")
            continue
        send = t0 + r["t_send_ns"]
        if send > g["t_arrival_ns"]:
            problems.append(f"index {r['index']}: sent after the server received it")
        if r["output_tokens"] != g["completion_tokens"]:
            problems.append(f"index {r['index']}: output_tokens {r['output_tokens']} != server {g['completion_tokens']}")
        if r["prompt_tokens"] != g["prompt_tokens"]:
            problems.append(f"index {r['index']}: prompt_tokens {r['prompt_tokens']} != server {g['prompt_tokens']}")
        if r["events"] != g["events"]:
            problems.append(f"index {r['index']}: events {r['events']} != server {g['events']}")
        ft = t0 + r["t_first_token_ns"]
        # The server hands the bytes to libmicrohttpd before the send and
        # stamps event_write_ns after it returns; a client on another core
        # may read them before the send returns, never before the hand-off.
        if ft < g["event_handed_ns"][0]:
            problems.append(f"index {r['index']}: first token seen before the server handed it out")
        # The client's TTFT includes send->arrival and write->receive: never less, and close.
        ttft_c = r["t_first_token_ns"] - r["t_send_ns"]
        ttft_s = g["t_first_token_write_ns"] - g["t_arrival_ns"]
        d = (ttft_c - ttft_s) / 1e6
        worst["ttft"] = max(worst["ttft"], abs(d))
        e2e_c = r["t_end_ns"] - r["t_send_ns"]
        e2e_s = g["t_end_ns"] - g["t_arrival_ns"]
        worst["e2e"] = max(worst["e2e"], abs(e2e_c - e2e_s) / 1e6)
        w = g["event_write_ns"]
        sgaps = [b - a for a, b in zip(w, w[1:])]
        if len(sgaps) == len(r["gaps_ns"]):
            for a, b in zip(r["gaps_ns"], sgaps):
                worst["gap"] = max(worst["gap"], abs(a - b) / 1e6)
            if r.get("gap_tokens") is not None and r["gap_tokens"] != g["event_tokens"][1:]:
                problems.append(f"index {r['index']}: gap_tokens differ from the server's event tokens")
        else:
            problems.append(f"index {r['index']}: {len(r['gaps_ns'])} gaps, server {len(sgaps)}")
    check("every sent request paired with ground truth, counts exact, causal", not problems,
          "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))
    for k, v in worst.items():
        check(f"{k} within {tol_ms} ms of the server's (worst {v:.3f} ms)", v <= tol_ms, f"{v:.3f} ms")
    if faults:
        check("every error class matches the injected fault", not fault_mismatch,
              "; ".join(fault_mismatch[:5]))
    return 1 if bad else 0


sys.exit(main())
