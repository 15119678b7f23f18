"""bench/vllm_body.py — the request body the vllm client sends for a trace's
first record (a materialised trace: `trace materialize`), streaming and
not, for the bare clients of the benchmarks (bench/replay_floor.c,
bench/stamp_floor.c) to send the same bytes' worth of work.

    python3 bench/vllm_body.py MATERIALISED.jsonl TOKENS STREAM_BODY [PLAIN_BODY]
"""
import json
import sys


def main():
    with open(sys.argv[1]) as f:
        f.readline()
        rec = json.loads(f.readline())
    n = int(sys.argv[2])
    body = dict(rec["body"], model="sagellm-sim", max_tokens=n, min_tokens=n, ignore_eos=True)
    outs = [(sys.argv[3], True)] + ([(sys.argv[4], False)] if len(sys.argv) > 4 else [])
    for path, stream in outs:
        b = dict(body, stream=stream)
        if stream:
            b["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
        with open(path, "w") as out:
            out.write(json.dumps(b, separators=(",", ":")))


main()
