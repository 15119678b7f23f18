#!/usr/bin/python3
"""shards_check.py — checks of a sharded replay's output for tests/cli/shards.sh.

  shards_check.py once DIR N TOTAL   every trace index 0..TOTAL-1 was sent exactly once
                                     across DIR/shard-K-of-N/, each shard's run.json
                                     says K/N, no shard sent another's records
  shards_check.py same A.json B.json the two report JSONs are equal in every figure
                                     (the manifest's members and the source aside)
Exit 0 when the check holds; otherwise 1 with the reason on stderr."""
import json
import os
import sys


def once(d, n, total):
    seen = {}
    for k in range(1, n + 1):
        sd = os.path.join(d, f"shard-{k}-of-{n}")
        with open(os.path.join(sd, "run.json"), encoding="utf-8") as f:
            run = json.load(f)
        if run.get("shard") != f"{k}/{n}":
            return f"{sd}/run.json: shard {run.get('shard')!r}, expected {k}/{n}"
        with open(os.path.join(sd, "requests.jsonl"), encoding="utf-8") as f:
            for line in f:
                ix = json.loads(line)["index"]
                if ix in seen:
                    return f"index {ix} sent by shard {seen[ix]} and shard {k}"
                seen[ix] = k
    missing = sorted(set(range(total)) - set(seen))
    extra = sorted(set(seen) - set(range(total)))
    if missing or extra:
        return f"indices missing {missing[:10]} ({len(missing)}), unexpected {extra[:10]}"
    return None


def same(a, b):
    with open(a, encoding="utf-8") as f:
        ja = json.load(f)
    with open(b, encoding="utf-8") as f:
        jb = json.load(f)
    skip = {"source", "trace_rate", "not_sent"}
    keys = (set(ja) | set(jb)) - skip
    diff = [k for k in sorted(keys) if ja.get(k) != jb.get(k)]
    if diff:
        return "differ in " + ", ".join(f"{k}: {ja.get(k)!r} vs {jb.get(k)!r}" for k in diff[:5])
    if ja.get("completed", 0) <= 0:
        return "no completed request"
    return None


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "once":
        why = once(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 4 and sys.argv[1] == "same":
        why = same(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if why:
        print(why, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
