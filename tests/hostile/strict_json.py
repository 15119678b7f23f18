#!/usr/bin/env python3
"""strict_json.py FILE... — exits 0 when every FILE is strict UTF-8 JSON:
a *.json file one document, any other file one document per non-empty
line, each decoded with errors='strict' and parsed by json.loads. Prints
FILE:LINE: reason for the first failure of each file and exits 1."""
import json
import sys

bad = 0
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    docs = [(1, data)] if path.endswith(".json") else \
        [(i + 1, l) for i, l in enumerate(data.split(b"\n")) if l.strip()]
    for line, raw in docs:
        try:
            json.loads(raw.decode("utf-8", errors="strict"))
        except (UnicodeDecodeError, ValueError) as e:
            print(f"{path}:{line}: {e}", file=sys.stderr)
            bad = 1
            break
sys.exit(bad)
