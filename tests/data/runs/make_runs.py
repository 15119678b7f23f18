#!/usr/bin/env python3
"""make_runs.py — writes the hand-made run directories beside this file
(basic, a, b, c, orig, bad) that the analysis tests read. Their answers are
worked out by hand in tests/unit/test_report.c and test_compare.c; running
this again rewrites the same bytes.

    python3 tests/data/runs/make_runs.py
"""
import json
import os

MS = 1000000; US = 1000
root = os.path.dirname(os.path.abspath(__file__))

def fnv(path):
    h = 1469598103934665603; n = 0
    data = open(path, 'rb').read()
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"fnv1a64:{h:016x}:{len(data)}"

def ok(index, sched, lag_us, ttft, out, last_rel, e2e, model, api, session, gaps, gap_tokens=None, prompt=None, inp=None):
    send = sched + lag_us * US
    first = send + ttft
    r = {"index": index, "id": f"r-{index}", "session": session, "client": "vllm", "api": api, "model": model,
         "warmup": False, "t_sched_ns": sched, "t_send_ns": send, "connect_ns": 0, "t_first_byte_ns": first,
         "t_first_token_ns": first, "t_last_token_ns": first + last_rel, "t_end_ns": send + e2e,
         "send_lag_us": lag_us, "output_tokens": out, "token_source": "usage", "prompt_tokens": prompt}
    if inp is not None: r["input_tokens"] = inp
    r["gaps_ns"] = gaps
    if gap_tokens is not None:
        r["gap_tokens"] = gap_tokens; r["itl_basis"] = "tokens"
    else:
        r["itl_basis"] = "chunk"
    r.update({"status": 200, "ok": True, "error": None})
    return r

def failed(index, sched, lag_us, e2e, cls, msg, model, api, session, status):
    send = sched + lag_us * US
    return {"index": index, "id": f"r-{index}", "session": session, "client": "vllm", "api": api, "model": model,
            "warmup": False, "t_sched_ns": sched, "t_send_ns": send, "connect_ns": 0, "t_first_byte_ns": None,
            "t_first_token_ns": None, "t_last_token_ns": None, "t_end_ns": send + e2e, "send_lag_us": lag_us,
            "output_tokens": 0, "prompt_tokens": None, "gaps_ns": [], "itl_basis": "chunk", "status": status,
            "ok": False, "error": {"class": cls, "message": msg}}

def write(d, recs, manifest=None):
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/requests.jsonl", "w") as f:
        for r in recs: f.write(json.dumps(r, separators=(",", ":")) + "\n")
    if manifest is not None:
        with open(f"{d}/run.json", "w") as f: json.dump(manifest, f, indent=1); f.write("\n")

# ---- basic: hand-computed answers in tests/unit/test_report.c and analysis/tests ----
w = dict(ok(0, 0, 0, 1*MS, 2, 1*MS, 3*MS, "m1", "chat", "s1", [1*MS], prompt=999)); w["warmup"] = True
basic = [w,
 ok(1, 0, 100, 10*MS, 11, 100*MS, 120*MS, "m1", "chat", "s1", [10*MS]*10, prompt=100),
 ok(2, 100*MS, 200, 20*MS, 1, 0, 30*MS, "m1", "chat", "s1", [], prompt=50),
 ok(3, 200*MS, 300, 30*MS, 5, 80*MS, 120*MS, "m2", "completions", "s2", [20*MS, 60*MS], [1, 3], prompt=None, inp=70),
 ok(4, 300*MS, 400, 40*MS, 3, 60*MS, 110*MS, "m2", "chat", None, [30*MS, 30*MS], prompt=200),
 failed(5, 400*MS, 500, 50*MS, "http_5xx", "engine overloaded", "m1", "chat", None, 500),
 failed(6, 61000*MS, 2000, 1000*MS, "timeout", "no response in 1s", "m1", "chat", None, None),
 ok(7, 61100*MS, 100, 50*MS, 2, 40*MS, 100*MS, "m2", "chat", "s2", [40*MS], prompt=30),
]
# completion order as replay writes it (by t_end), the warm-up first
order = [0, 2, 1, 4, 3, 5, 7, 6]
write(f"{root}/basic", [basic[i] for i in order], {
    "tool": "sagellm-bench 0.1.0",
    "command": "sagellm-bench replay --client vllm --url http://127.0.0.1:8000 --slo ttft=35ms,e2el=115ms --warmup 1 --out basic trace.jsonl.zst",
    "client": "vllm", "url": "http://127.0.0.1:8000", "trace": "trace.jsonl.zst",
    "trace_digest": "fnv1a64:00000000000000aa:10", "speed": 1, "start": "2026-01-01T00:00:00.000000Z",
    "trace_rate": 10, "scheduled": 9, "not_sent": 1, "interrupted": False})

# ---- a and b: the same trace, b slower by 50 ms TTFT and 100 ms E2E on every request ----
def ab(delta_ttft, delta_e2e, lag=100):
    recs = []
    for i in range(40):
        ttft = (100 + i) * MS + delta_ttft
        e2e = (1000 + 10 * i) * MS + delta_e2e
        recs.append(ok(i, i * 250 * MS, lag, ttft, 21, 20 * (20 + i % 5) * MS // 1, e2e, "m", "chat", None,
                       [(20 + i % 5) * MS] * 20, prompt=500 + i))
    return recs
man = {"tool": "sagellm-bench 0.1.0", "client": "vllm", "url": "http://127.0.0.1:8000", "trace": "t.jsonl.zst",
       "trace_digest": "fnv1a64:00000000000000bb:20", "speed": 1, "trace_rate": 4, "not_sent": 0}
write(f"{root}/a", ab(0, 0), dict(man))
write(f"{root}/b", ab(50 * MS, 100 * MS), dict(man))
mc = dict(man); mc["trace_digest"] = "fnv1a64:00000000000000cc:30"; mc["speed"] = 2
write(f"{root}/c", ab(0, 0, lag=5000), mc)

# ---- orig: a captured-style trace with the original server's timings ----
d = f"{root}/orig"
os.makedirs(d, exist_ok=True)
with open(f"{d}/trace.jsonl", "w") as f:
    f.write(json.dumps({"format": "sagellm-trace", "version": 1, "source": "capture"}) + "\n")
    for i in range(10):
        rec = {"t_us": i * 100000, "id": f"c-{i}", "api": "chat", "input_tokens": 100, "output_tokens": 10}
        if i != 9:  # the last record has no original timing
            rec["orig"] = {"status": 200, "ttft_us": (i + 1) * 10000, "e2e_us": (i + 1) * 100000}
        f.write(json.dumps(rec, separators=(",", ":")) + "\n")
recs = []
for i in range(10):  # replay: TTFT 5 ms + i ms (faster), E2E 200 ms + 100 i (slower)
    recs.append(ok(i, i * 100 * MS, 50, (5 + i) * MS, 10, 9 * MS, (200 + 100 * i) * MS, "m", "chat", None,
                   [1 * MS] * 9, prompt=100))
write(d, recs, {"tool": "sagellm-bench 0.1.0", "client": "gateway", "url": "http://127.0.0.1:8000",
                "trace": "elsewhere/trace.jsonl", "trace_digest": fnv(f"{d}/trace.jsonl"), "speed": 1,
                "trace_rate": 10, "not_sent": 0})

# ---- bad: a malformed log ----
os.makedirs(f"{root}/bad", exist_ok=True)
with open(f"{root}/bad/requests.jsonl", "w") as f:
    f.write(json.dumps(basic[1], separators=(",", ":")) + "\n")
    b = dict(basic[2]); b["t_end_ns"] = "soon"
    f.write(json.dumps(b, separators=(",", ":")) + "\n")
