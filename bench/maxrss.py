#!/usr/bin/env python3
"""maxrss.py CMD ARGS... — runs CMD and prints "maxrss_kb=N wall_s=S cpu_s=C" to stderr.

Used by bench scripts to measure a child's peak resident set size
(getrusage RUSAGE_CHILDREN), its wall time and its CPU time (user + system),
without needing GNU time."""
import resource
import subprocess
import sys
import time

t0 = time.monotonic()
rc = subprocess.run(sys.argv[1:]).returncode
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"maxrss_kb={ru.ru_maxrss} wall_s={wall:.3f} cpu_s={ru.ru_utime + ru.ru_stime:.3f}", file=sys.stderr)
sys.exit(rc)
