"""plotcheck.py OUT PNG... — checks what analysis/plot.py wrote into OUT:
exactly the PNGs named and report.html; each PNG valid (signature, IHDR
chunk, decodes with matplotlib, at least 100x100 pixels, not blank); the
HTML embeds each PNG as a data URI, names its file, and holds the tables.
Exits 0, or 1 with the first problem. Used by tests/cli/analysis*.sh."""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402


def check(out, pngs):
    got = sorted(os.listdir(out))
    want = sorted(pngs + ["report.html"])
    if got != want:
        return f"files {got}, expected {want}"
    for p in pngs:
        path = os.path.join(out, p)
        with open(path, "rb") as f:
            head = f.read(24)
        if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR" or os.path.getsize(path) < 2000:
            return f"{p}: not a PNG"
        img = mpimg.imread(path)
        if img.shape[0] < 100 or img.shape[1] < 100 or img.std() == 0:
            return f"{p}: {img.shape}, blank"
    with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
        h = f.read()
    for p in pngs:
        if f'data-file="{p}"' not in h or f'href="{p}"' not in h:
            return f"report.html does not name {p}"
    if h.count('src="data:image/png;base64,') != len(pngs) or "<table>" not in h:
        return "report.html does not embed every plot and the tables"
    return None


if __name__ == "__main__":
    problem = check(sys.argv[1], sys.argv[2:])
    if problem:
        print(f"plotcheck: {problem}", file=sys.stderr)
        sys.exit(1)
