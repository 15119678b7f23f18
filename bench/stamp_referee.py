"""bench/stamp_referee.py — the figures of bench/stamp_referee.sh: every
token event's time stamps against its wire time (the capture's timestamp of
the TCP segment that carried the event's last byte).

    python3 bench/stamp_referee.py N DIR [N DIR ...]

DIR holds one run of the script: gt.jsonl (serve's ground truth),
replay/ (requests.jsonl, run.json), floor.jsonl and floor.out
(bench/stamp_floor.c), wire.jsonl (`capture -r --event-times`),
wire.pcap.err (tcpdump's counts), replay.probe and floor.probe
(bench/replay_probe.c: CPU of the client, the server, tcpdump and the
machine).

Clocks: the ground truth, the replay and the floor stamp CLOCK_MONOTONIC;
the capture CLOCK_REALTIME. Wire times are moved to CLOCK_MONOTONIC with the
offset the floor read as the tightest of 2,000 back-to-back readings (the
ground truth's and run.json's anchors are printed beside it as a check).
"""
import json
import sys


def pct(v, p):
    """numpy's default percentile (linear between closest ranks) of sorted v."""
    if not v:
        return float("nan")
    k = (len(v) - 1) * p
    i = int(k)
    j = min(i + 1, len(v) - 1)
    return v[i] + (v[j] - v[i]) * (k - i)


def kv(path):
    try:
        line = open(path).read().split("\n")[0]
    except OSError:
        return {}
    return dict(f.split("=", 1) for f in line.split() if "=" in f)


def load_wire(d, offset):
    """id -> wire times (CLOCK_MONOTONIC ns) of its content events."""
    out = {}
    with open(f"{d}/wire.jsonl") as f:
        f.readline()
        for line in f:
            r = json.loads(line)
            rid = (r.get("headers") or {}).get("x-request-id")
            o = r["orig"]
            if rid is None or "event_ns" not in o:
                continue
            out[rid] = [o["t_arrival_ns"] + e - offset for e in o["event_ns"]]
    return out


def load_gt(d):
    out, head = {}, None
    for line in open(f"{d}/gt.jsonl"):
        j = json.loads(line)
        if j["type"] == "server":
            head = j
        elif j.get("client_request_id") is not None:
            out[j["client_request_id"]] = j["event_write_ns"]
    return out, head


def load_replay(d):
    run = json.load(open(f"{d}/replay/run.json"))
    t0 = run["start_monotonic_ns"]
    out = {}
    for line in open(f"{d}/replay/requests.jsonl"):
        r = json.loads(line)
        if r.get("t_first_token_ns") is None:
            continue
        t = t0 + r["t_first_token_ns"]
        ts = [t]
        for g in r["gaps_ns"]:
            t += g
            ts.append(t)
        out[str(r["index"])] = ts
    return out, run


def load_floor(d):
    return {j["id"]: j["events_ns"] for j in map(json.loads, open(f"{d}/floor.jsonl"))}


def diffs(stamps, wire, tokens, missing):
    """Per position (0-based) and all: stamp - wire in us, over the ids in stamps."""
    by_pos = [[] for _ in range(tokens)]
    for rid, ts in stamps.items():
        w = wire.get(rid)
        if w is None or len(w) != len(ts) or len(ts) != tokens:
            missing.append(rid)
            continue
        for k in range(tokens):
            by_pos[k].append((ts[k] - w[k]) / 1e3)
    return by_pos


def summary(values):
    a = sorted(abs(x) for x in values)
    s = sorted(values)
    return {"p50": pct(a, .5), "p99": pct(a, .99), "max": a[-1] if a else float("nan"),
            "median_signed": pct(s, .5), "before_wire": sum(x < 0 for x in values) / max(1, len(values)),
            "n": len(values)}


def load(path_probe):
    p = kv(path_probe)
    try:
        wall = float(p["wall_s"])
        ours = float(p["cpu_s"]) + float(p["pid0_cpu_s"]) + float(p["pid1_cpu_s"])
        return {"other": (float(p["machine_busy_s"]) - ours) / wall, "client": float(p["cpu_s"]) / wall,
                "server": float(p["pid0_cpu_s"]) / wall, "tcpdump": float(p["pid1_cpu_s"]) / wall}
    except (KeyError, ValueError, ZeroDivisionError):
        return None


def tcpdump_counts(d):
    try:
        t = open(f"{d}/wire.pcap.err").read()
    except OSError:
        return "?"
    return "; ".join(l.strip() for l in t.splitlines() if "packets" in l)


def report(n, d):
    fl = kv(f"{d}/floor.out")
    offset = int(fl["realtime_minus_monotonic_ns"])
    gt, head = load_gt(d)
    rp, run = load_replay(d)
    floor = load_floor(d)
    wire = load_wire(d, offset)
    tokens = max(len(v) for v in wire.values())
    print(f"\n== {n} concurrent streams, {tokens} tokens each")
    print(f"   clock offset realtime - monotonic: {offset} ns (floor, tightest of 2,000 reads; "
          f"drift over the run {fl.get('offset_drift_ns', '?')} ns); ground truth anchor "
          f"{head['anchor_realtime_ns'] - head['anchor_mono_ns'] - offset:+d} ns, run.json "
          f"{run['start_realtime_ns'] - run['start_monotonic_ns'] - offset:+d} ns from it")
    print(f"   capture: {len(wire)} streams on the wire; tcpdump: {tcpdump_counts(d)}")
    for name in ("replay", "floor"):
        ld = load(f"{d}/{name}.probe")
        if ld:
            print(f"   CPU during the {name} run (cores): client {ld['client']:.2f}, server {ld['server']:.2f}, "
                  f"tcpdump {ld['tcpdump']:.2f}, other programs {ld['other']:.2f}")
    missing = {}
    rows = []
    gt_replay = {k: gt[k] for k in rp if k in gt}
    gt_floor = {k: gt[k] for k in floor if k in gt}
    for label, stamps in (("ground truth - wire (replay run)", gt_replay),
                          ("ground truth - wire (floor run)", gt_floor),
                          ("replay - wire", rp), ("floor - wire", floor)):
        miss = []
        by_pos = diffs(stamps, wire, tokens, miss)
        if miss:
            missing[label] = miss
        cols = [summary(by_pos[0]), summary(by_pos[min(50, tokens - 1)]), summary(by_pos[tokens - 1]),
                summary([x for p in by_pos for x in p])]
        rows.append((label, cols))
    hdr = ["token 1", f"token {min(51, tokens)}", f"token {tokens}", "all tokens"]
    print(f"   |stamp - wire| in us, p50 / p99 / max ({rows[2][1][3]['n']} token events per client):")
    print("   %-34s" % "" + "".join("%-26s" % h for h in hdr))
    for label, cols in rows:
        print("   %-34s" % label + "".join("%-26s" % ("%.1f / %.1f / %.0f" % (c["p50"], c["p99"], c["max"]))
                                         for c in cols))
    for label, cols in rows[:2]:
        print(f"   {label}: stamped before the wire in {100 * cols[3]['before_wire']:.1f}% of events "
              f"(signed median {cols[3]['median_signed']:+.1f} us)")
    r, f = rows[2][1], rows[3][1]
    print("   %-34s" % "replay / floor, p50 and p99" +
          "".join("%-26s" % ("%.2f / %.2f" % (r[i]["p50"] / f[i]["p50"], r[i]["p99"] / f[i]["p99"])) for i in range(4)))
    for label, miss in missing.items():
        print(f"   NOTE {label}: {len(miss)} streams without {tokens} events on both sides, left out: {miss[:5]}")
    g = rows[0][1][3]
    print(f"RESULT streams={n} gt_p99_us={g['p99']:.1f} replay_p99_us={r[3]['p99']:.1f} floor_p99_us={f[3]['p99']:.1f} "
          f"replay_p50_us={r[3]['p50']:.1f} floor_p50_us={f[3]['p50']:.1f} replay_floor_p99_ratio={r[3]['p99'] / f[3]['p99']:.2f}")


def main():
    a = sys.argv[1:]
    if len(a) < 2 or len(a) % 2:
        sys.exit("usage: stamp_referee.py N DIR [N DIR ...]")
    for i in range(0, len(a), 2):
        report(int(a[i]), a[i + 1])


main()
