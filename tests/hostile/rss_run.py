#!/usr/bin/env python3
"""rss_run.py SECONDS PEAK_FILE CMD... — runs CMD, samples its VmRSS every
20 ms and writes the peak (kB) to PEAK_FILE; kills it (SIGKILL) after
SECONDS. Exits with CMD's status, or 124 when it was killed for time."""
import subprocess
import sys
import time


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    limit, out, cmd = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
    p = subprocess.Popen(cmd)
    end = time.monotonic() + limit
    peak = 0
    rc = None
    while rc is None:
        peak = max(peak, rss_kb(p.pid))
        if time.monotonic() > end:
            p.kill()
            p.wait()
            rc = 124
            break
        try:
            rc = p.wait(timeout=0.02)
        except subprocess.TimeoutExpired:
            pass
    with open(out, "w") as f:
        f.write("%d\n" % peak)
    sys.exit(rc)


if __name__ == "__main__":
    main()
