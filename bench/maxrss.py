#!/usr/bin/env python3
"""maxrss.py CMD ARGS... — runs CMD and prints "maxrss_kb=N wall_s=S" to stderr.

Used by bench scripts to measure a child's peak resident set size
(getrusage RUSAGE_CHILDREN), without needing GNU time."""
import resource
import subprocess
import sys
import time

t0 = time.monotonic()
rc = subprocess.run(sys.argv[1:]).returncode
wall = time.monotonic() - t0
kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"maxrss_kb={kb} wall_s={wall:.3f}", file=sys.stderr)
sys.exit(rc)
