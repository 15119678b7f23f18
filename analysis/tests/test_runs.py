"""Tests of sagellm_runs.py over the hand-made logs in tests/data/runs, with
the answers worked out by hand in tests/unit/test_report.c (the same numbers
the C summary gives): numpy's linear percentiles, per-token ITL, warm-up left
out, the time series and the server metrics."""
import json
import math
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import sagellm_runs as sr  # noqa: E402

RUNS = os.path.join(HERE, "..", "..", "tests", "data", "runs")


class TestRunLog(unittest.TestCase):
    def setUp(self):
        self.r = sr.Run(os.path.join(RUNS, "basic"))

    def test_columns(self):
        self.assertEqual(len(self.r.ok), 7)          # the warm-up request is left out
        self.assertEqual(self.r.warmup, 1)
        self.assertEqual(int(self.r.ok.sum()), 5)
        self.assertEqual(sorted(self.r.metric("ttft")), [10, 20, 30, 40, 50])
        self.assertEqual(sorted(self.r.metric("tpot")), [10, 20, 30, 40])
        self.assertEqual(sorted(self.r.metric("e2el")), [30, 100, 110, 120, 120])
        # ten 10 ms chunk gaps; [20, 60] ms over [1, 3] tokens; [30, 30]; [40]
        self.assertEqual(sorted(self.r.metric("itl")), [10] * 10 + [20] * 4 + [30] * 2 + [40])
        self.assertEqual(self.r.errors, {"http_5xx": 1, "timeout": 1})
        self.assertEqual(self.r.manifest["trace_rate"], 10)

    def test_summary_by_hand(self):
        s = sr.compute_summary(self.r)
        self.assertEqual((s["completed"], s["failed"]), (5, 2))
        self.assertAlmostEqual(s["duration"], 62.0019, places=12)
        self.assertEqual(s["median_ttft_ms"], 30)
        self.assertAlmostEqual(s["p90_ttft_ms"], 46, places=12)
        self.assertAlmostEqual(s["p99_ttft_ms"], 49.6, places=12)
        self.assertAlmostEqual(s["std_ttft_ms"], math.sqrt(200), places=12)
        self.assertAlmostEqual(s["p99_tpot_ms"], 39.7, places=12)
        self.assertAlmostEqual(s["mean_itl_ms"], 280 / 17, places=12)
        self.assertAlmostEqual(s["p99_itl_ms"], 38.4, places=12)
        self.assertEqual(s["median_e2el_ms"], 110)
        self.assertAlmostEqual(s["send_lag_p99_us"], 1910, places=9)
        self.assertEqual(s["send_lag_max_us"], 2000)
        self.assertEqual(s["total_input_tokens"], 450)   # 100 + 50 + 70 (trace) + 200 + 30
        self.assertEqual(s["total_output_tokens"], 22)

    def test_tpot_not_measured_for_one_event(self):
        d = tempfile.mkdtemp()
        try:
            with open(os.path.join(d, "requests.jsonl"), "w") as f:
                f.write(json.dumps({"index": 0, "ok": True, "t_send_ns": 0, "t_first_token_ns": 5000000,
                                    "t_last_token_ns": 5000000, "t_end_ns": 6000000, "output_tokens": 44,
                                    "events": 1}) + "\n")
                f.write(json.dumps({"index": 1, "ok": True, "t_send_ns": 0, "t_first_token_ns": 5000000,
                                    "t_last_token_ns": 9000000, "t_end_ns": 9000000, "output_tokens": 3,
                                    "events": 3}) + "\n")
            s = sr.compute_summary(sr.Run(d))
            self.assertEqual(s["mean_tpot_ms"], 2)   # only the second: 4 ms over 2 gaps
        finally:
            shutil.rmtree(d)

    def test_late(self):
        late, p99 = self.r.late()
        self.assertTrue(late)
        self.assertAlmostEqual(p99, 1910, places=9)
        self.assertFalse(sr.Run(os.path.join(RUNS, "a")).late()[0])

    def test_summary_prefers_summary_json(self):
        d = tempfile.mkdtemp()
        try:
            shutil.copy(os.path.join(RUNS, "a", "requests.jsonl"), d)
            with open(os.path.join(d, "summary.json"), "w") as f:
                json.dump({"completed": 12345}, f)
            self.assertEqual(sr.Run(d).summary()["completed"], 12345)
            self.assertEqual(sr.Run(os.path.join(d, "requests.jsonl")).summary()["completed"], 12345)
        finally:
            shutil.rmtree(d)

    def test_itl_rules(self):
        # a zero-token gap is carried into the next gap; trailing zero-token gaps are dropped
        rec = {"gaps_ns": [10, 20, 30, 5], "gap_tokens": [1, 0, 2, 0]}
        self.assertEqual(sr.itl_values(rec), [10, 25, 25])
        self.assertEqual(sr.itl_values({"gaps_ns": [7, 8]}), [7, 8])
        with self.assertRaises(sr.InputError):
            sr.itl_values({"gaps_ns": [1, 2], "gap_tokens": [1]})

    def test_malformed_log_names_file_line_field(self):
        with self.assertRaises(sr.InputError) as e:
            sr.Run(os.path.join(RUNS, "bad"))
        self.assertIn("bad/requests.jsonl:2: field \"t_end_ns\": expected an integer", str(e.exception))
        d = tempfile.mkdtemp()
        try:
            with open(os.path.join(d, "requests.jsonl"), "w") as f:
                f.write('{"ok": true}\n{"ok": tru\n')
            with self.assertRaises(sr.InputError) as e:
                sr.Run(d)
            self.assertIn("requests.jsonl:1: field \"t_send_ns\": missing", str(e.exception))
        finally:
            shutil.rmtree(d)
        with self.assertRaises(OSError):
            sr.Run(os.path.join(RUNS, "no-such-run"))


class TestTimeSeries(unittest.TestCase):
    def test_auto_interval_as_report(self):
        self.assertEqual(sr.auto_interval(3.5e9), 100e6)
        self.assertEqual(sr.auto_interval(62.0019e9), 2e9)
        self.assertEqual(sr.auto_interval(3600e9), 60e9)

    def test_by_hand(self):
        ts = sr.timeseries(sr.Run(os.path.join(RUNS, "basic")), 1e9)
        self.assertEqual(len(ts["t"]), 63)
        self.assertEqual(ts["rate"][0], 5)
        self.assertEqual(ts["done"][0], 4)
        self.assertEqual(ts["ttft_p50"][0], 25)
        self.assertAlmostEqual(ts["ttft_p99"][0], 39.7, places=12)
        self.assertAlmostEqual(ts["in_flight"][0], 0.43, places=12)
        self.assertAlmostEqual(ts["in_flight"][61], 1.098, places=12)
        self.assertTrue(math.isnan(ts["ttft_p50"][1]))


class TestServerMetrics(unittest.TestCase):
    def test_series(self):
        d = tempfile.mkdtemp()
        try:
            shutil.copy(os.path.join(RUNS, "a", "requests.jsonl"), d)
            with open(os.path.join(d, "server_metrics.jsonl"), "w") as f:
                for i in range(5):
                    f.write(json.dumps({"t_ns": i * 500000000, "metrics": {
                        'x:running{m="a"}': i, 'x:running{m="b"}': 1,     # gauge: labels summed
                        'x:tokens_total{m="a"}': 100 * i * i,              # counter: a rate
                        'x:ttft_seconds_sum{m="a"}': i, "x:constant": 3,   # left out
                    }}) + "\n")
            series = dict((t, (tt, v)) for t, tt, v in sr.server_series(sr.Run(d)))
            self.assertEqual(sorted(series), ["x:running", "x:tokens_total (per s)"])
            self.assertEqual(list(series["x:running"][1]), [1, 2, 3, 4, 5])
            self.assertEqual(list(series["x:tokens_total (per s)"][1]), [200, 600, 1000, 1400])
            self.assertEqual(list(series["x:tokens_total (per s)"][0]), [0.5, 1.0, 1.5, 2.0])
            with open(os.path.join(d, "server_metrics.jsonl"), "a") as f:
                f.write('{"t_ns": "late"}\n')
            with self.assertRaises(sr.InputError) as e:
                sr.Run(d)
            self.assertIn("server_metrics.jsonl:6:", str(e.exception))
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
