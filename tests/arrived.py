#!/usr/bin/env python3
"""arrived.py LOG INDEX EXPR — for replay tests: evaluates the Python
expression EXPR on what record_server.py wrote down for the request whose
X-Request-Id is INDEX, and exits 0 when it is true (1 when false, 2 when no
such request arrived). Names EXPR can use: path, headers (lower-case name
-> list of values), raw (the body bytes), body (the body parsed as JSON,
or None)."""
import json
import sys

log, index, expr = sys.argv[1], sys.argv[2], sys.argv[3]
for line in open(log):
    r = json.loads(line)
    headers = {}
    for k, v in r["headers"]:
        headers.setdefault(k.lower(), []).append(v)
    if headers.get("x-request-id") != [index]:
        continue
    raw = bytes.fromhex(r["body_hex"])
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    ok = eval(expr, {"path": r["path"], "headers": headers, "raw": raw, "body": body})
    if not ok:
        print(f"request {index}: {expr} is false; path {r['path']}, headers {headers}, body {raw[:400]!r}",
              file=sys.stderr)
    sys.exit(0 if ok else 1)
print(f"request {index} did not arrive", file=sys.stderr)
sys.exit(2)
