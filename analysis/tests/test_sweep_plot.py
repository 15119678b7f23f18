"""Tests of sweep_plot.py (plot.py given sweep directories): the files, the
capacity and points in report.html, a malformed sweep.json, mixing runs and
sweeps."""
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import plot  # noqa: E402
import sweep_plot  # noqa: E402

RUNS = os.path.join(HERE, "..", "..", "tests", "data", "runs")


def point(x, rate, att, verdict, **kw):
    p = {"x": x, "dir": f"speed-{x:g}", "verdict": verdict, "runs": 1, "attainment": att,
         "offered_rate": rate, "achieved_rate": rate, "goodput": rate * att, "client": "on time",
         "median_ttft_ms": 20.0, "p99_ttft_ms": 30.0 / att, "median_tpot_ms": 10.0, "p99_tpot_ms": 11.0,
         "median_itl_ms": None, "p99_itl_ms": None, "median_e2el_ms": 200.0, "p99_e2el_ms": 250.0 / att,
         "failed": 0}
    p.update(kw)
    return p


def write_sweep(d, cap_rate, points):
    os.makedirs(d)
    cap = {"status": "bracketed", "x": 1, "offered_rate": cap_rate, "above_x": 2, "above_verdict": "fail"}
    with open(os.path.join(d, "sweep.json"), "w", encoding="utf-8") as f:
        json.dump({"mode": "speed", "points": points, "capacity": cap, "target": 0.95,
                   "points_run": len(points), "wall_s": 12.5}, f)


class TestSweepPlot(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.a = os.path.join(self.tmp, "sweep-a")
        self.b = os.path.join(self.tmp, "sweep-b")
        write_sweep(self.a, 10, [point(1, 10, 1.0, "pass"), point(2, 20, 0.4, "fail", stopped_early="x")])
        write_sweep(self.b, 20, [point(1, 10, 1.0, "pass"), point(2, 20, 0.97, "pass"),
                                 point(4, 40, 0.2, "fail"), point(3, 30, 0.9, "invalid", client="late")])

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_two_sweeps(self):
        out = os.path.join(self.tmp, "out")
        self.assertEqual(plot.main([self.a, self.b, "-o", out]), 0)
        for f in ("sweep_latency.png", "sweep_attainment.png"):
            with open(os.path.join(out, f), "rb") as fh:
                self.assertEqual(fh.read(8), b"\x89PNG\r\n\x1a\n")
        with open(os.path.join(out, "report.html"), encoding="utf-8") as fh:
            h = fh.read()
        self.assertIn("capacity ratio sweep-b / sweep-a: <b>2.000</b>", h)
        self.assertIn('data-file="sweep_attainment.png"', h)
        self.assertIn("(stopped early)", h)
        self.assertIn("invalid", h)

    def test_bad_sweep_and_mixing(self):
        with open(os.path.join(self.a, "sweep.json"), "w", encoding="utf-8") as f:
            f.write('{"points": 3}')
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertEqual(plot.main([self.a, "-o", os.path.join(self.tmp, "o")]), 3)
        self.assertIn("field 'points'", err.getvalue())
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as cm:
            plot.main([self.b, os.path.join(RUNS, "a"), "-o", os.path.join(self.tmp, "o")])
        self.assertEqual(cm.exception.code, 2)


if __name__ == "__main__":
    unittest.main()
