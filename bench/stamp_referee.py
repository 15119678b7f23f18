"""bench/stamp_referee.py — the figures of bench/stamp_referee.sh: every
token event's time stamps against its wire time (the capture's timestamp of
the TCP segment that carried the event's last byte).

    python3 bench/stamp_referee.py N DIR [N DIR ...]

DIR holds one run of the script: gt.jsonl (serve's ground truth),
replay-MODE/ (requests.jsonl, run.json; one per --rx-stamp mode, or
replay-default), floor.jsonl and floor.out (bench/stamp_floor.c),
wire.jsonl (`capture -r --event-times`), wire.pcap.err (tcpdump's counts),
replay-MODE.probe and floor.probe (bench/replay_probe.c: CPU of the client,
the server, tcpdump and the machine). The runs came one after the other
against one server: ground-truth lines and captured exchanges belong to the
run during which they arrived.

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


def phase_of(t, phases):
    """The name of the last phase (name, start) that started at or before t."""
    name = phases[0][0]
    for n, start in phases:
        if t >= start:
            name = n
    return name


def load_wire(d, offset, phases):
    """(phase, id) -> wire times (CLOCK_MONOTONIC ns) of its content events."""
    out = {}
    with open(f"{d}/wire.jsonl") as f:
        f.readline()
        for line in f:
            r = json.loads(line)
            rid = (r.get("headers") or {}).get("x-request-id")
            o = r["orig"]
            if rid is None or "event_ns" not in o:
                continue
            t = o["t_arrival_ns"] - offset
            out[(phase_of(t, phases), rid)] = [t + e for e in o["event_ns"]]
    return out


def load_gt(d, phases):
    """(phase, id) -> event_write_ns, and the header line."""
    out, head = {}, None
    for line in open(f"{d}/gt.jsonl"):
        j = json.loads(line)
        if j["type"] == "server":
            head = j
        elif j.get("client_request_id") is not None:
            out[(phase_of(j["t_arrival_ns"], phases), j["client_request_id"])] = j["event_write_ns"]
    return out, head


def load_replay(rdir):
    """id -> token times (CLOCK_MONOTONIC ns), and run.json."""
    run = json.load(open(f"{rdir}/run.json"))
    t0 = run["start_monotonic_ns"]
    out = {}
    run["negative_gaps"] = 0
    for line in open(f"{rdir}/requests.jsonl"):
        r = json.loads(line)
        if r.get("t_first_token_ns") is None:
            continue
        run["negative_gaps"] += sum(g < 0 for g in r["gaps_ns"])
        t = t0 + r["t_first_token_ns"]
        ts = [t]
        for g in r["gaps_ns"]:
            t += g
            ts.append(t)
        out[str(r["index"])] = ts
    return out, run


def load_floor(d):
    return {j["id"]: j for j in map(json.loads, open(f"{d}/floor.jsonl"))}


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


def replay_modes(d):
    """The replay runs of DIR, in the order they ran: [(mode, dir)]."""
    import glob
    import os
    runs = [(p[len(d) + len("/replay-"):], p) for p in glob.glob(f"{d}/replay-*") if os.path.isdir(p)]
    return sorted(runs, key=lambda m: json.load(open(f"{m[1]}/run.json"))["start_monotonic_ns"])


def print_setting(n, d, tokens, offset, fl, head, runs, nwire):
    print(f"\n== {n} concurrent streams, {tokens} tokens each")
    checks = [f"ground truth anchor {head['anchor_realtime_ns'] - head['anchor_mono_ns'] - offset:+d} ns"]
    checks += [f"run.json ({m}) {r['start_realtime_ns'] - r['start_monotonic_ns'] - offset:+d} ns" for m, r in runs]
    print(f"   clock offset realtime - monotonic: {offset} ns (the floor's tightest of 2,000 reads; drift over "
          f"the run {fl.get('offset_drift_ns', '?')} ns); from it: " + ", ".join(checks))
    counts = tcpdump_counts(d)
    print(f"   capture: {nwire} streams on the wire; tcpdump: {counts}")
    if " 0 packets dropped by kernel" not in counts:
        print("   WARNING: the referee lost packets (a starved tcpdump): streams with a gap are left out")


def print_load(d, names):
    for name in names:
        ld = load(f"{d}/{name}.probe")
        if ld:
            print(f"   CPU during the {name} run (cores): client {ld['client']:.2f}, server {ld['server']:.2f}, "
                  f"tcpdump {ld['tcpdump']:.2f}, other programs {ld['other']:.2f}")


def print_rows(rows, tokens):
    hdr = ["token 1", f"token {min(51, tokens)}", f"token {tokens}", "all tokens"]
    print(f"   |stamp - wire| in us, p50 / p99 / max ({rows[0][1][3]['n']} ground-truth events):")
    print("   %-36s" % "" + "".join("%-26s" % h for h in hdr))
    for label, cols in rows:
        print("   %-36s" % label + "".join("%-26s" % ("%.1f / %.1f / %.0f" % (c["p50"], c["p99"], c["max"]))
                                         for c in cols))


def report(n, d):
    fl = kv(f"{d}/floor.out")
    offset = int(fl["realtime_minus_monotonic_ns"])
    modes = replay_modes(d)
    replays = [(m, load_replay(p)) for m, p in modes]
    floor = load_floor(d)
    phases = [(m, r[1]["start_monotonic_ns"]) for m, r in replays]
    phases.append(("floor", min(j["t_send_ns"] for j in floor.values())))
    gt, head = load_gt(d, phases)
    wire = load_wire(d, offset, phases)
    tokens = max(len(v) for v in wire.values())
    print_setting(n, d, tokens, offset, fl, head, [(m, r[1]) for m, r in replays], len(wire))
    print_load(d, [f"replay-{m}" for m, _ in modes] + ["floor"])
    clients = [(f"replay ({m}) - wire" if m != "default" else "replay - wire",
                {(m, k): v for k, v in r[0].items()}) for m, r in replays]
    clients.append(("floor - wire", {("floor", k): j["events_ns"] for k, j in floor.items()}))
    missing, rows = {}, []
    for label, stamps in [("ground truth - wire", gt)] + clients:
        miss = []
        by_pos = diffs(stamps, wire, tokens, miss)
        if miss:
            missing[label] = miss
        rows.append((label, [summary(by_pos[0]), summary(by_pos[min(50, tokens - 1)]),
                             summary(by_pos[tokens - 1]), summary([x for p in by_pos for x in p])]))
    print_rows(rows, tokens)
    g, f = rows[0][1], rows[-1][1]
    print(f"   ground truth: stamped before the wire in {100 * g[3]['before_wire']:.1f}% of events "
          f"(signed median {g[3]['median_signed']:+.1f} us)")
    for label, cols in rows[1:-1]:
        print("   %-36s" % (label.replace(" - wire", "") + " / floor, p50/p99") +
              "".join("%-26s" % ("%.2f / %.2f" % (cols[i]["p50"] / f[i]["p50"], cols[i]["p99"] / f[i]["p99"]))
                      for i in range(4)))
    for m, r in replays:
        if r[1]["negative_gaps"]:
            print(f"   NOTE replay ({m}): {r[1]['negative_gaps']} token stamps earlier than the token before them "
                  "(negative gaps_ns)")
    for label, miss in missing.items():
        print(f"   NOTE {label}: {len(miss)} streams without {tokens} events on both sides, left out: {miss[:5]}")
    res = " ".join(f"{lab.split(' - ')[0].replace(' ', '_').replace('(', '').replace(')', '')}_p99_us={c[3]['p99']:.1f}"
                   for lab, c in rows)
    print(f"RESULT streams={n} {res}")


def main():
    a = sys.argv[1:]
    if len(a) < 2 or len(a) % 2:
        sys.exit("usage: stamp_referee.py N DIR [N DIR ...]")
    for i in range(0, len(a), 2):
        report(int(a[i]), a[i + 1])


main()
