"""Tests of plot.py: the files it writes (the expected set, valid non-empty
PNGs, a self-contained report.html that embeds and names them all) and its
exit codes, over the hand-made logs in tests/data/runs."""
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
sys.path.insert(0, HERE)
import plot  # noqa: E402
import plotcheck  # noqa: E402
import sagellm_runs as sr  # noqa: E402

RUNS = os.path.join(HERE, "..", "..", "tests", "data", "runs")
BASE_PNGS = ["cdf_ttft.png", "cdf_tpot.png", "cdf_itl.png", "cdf_e2el.png",
             "timeseries.png", "send_lag.png", "tokens_ttft.png"]


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


class TestPlot(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_two_runs(self):
        out = os.path.join(self.tmp, "out")
        files = plot.plot([os.path.join(RUNS, "a"), os.path.join(RUNS, "b")], out)
        self.assertEqual(sorted(os.path.basename(f) for f in files), sorted(BASE_PNGS + ["report.html"]))
        self.assertIsNone(plotcheck.check(out, BASE_PNGS))
        html = read(os.path.join(out, "report.html"))
        # the summary table holds both runs' figures (from the logs: no summary.json)
        self.assertIn("<th>a</th><th>b</th>", html)
        self.assertIn("<td>119.50</td><td>169.50</td>", html)   # median TTFT
        self.assertNotIn('src="cdf_', html)                     # embedded, not linked

    def test_summary_table_labels_chunks_and_shows_engine_view(self):
        run = os.path.join(self.tmp, "run")
        shutil.copytree(os.path.join(RUNS, "a"), run)
        with open(os.path.join(run, "requests.jsonl")) as f:
            recs = [json.loads(line) for line in f]
        summary = {"completed": len(recs), "failed": 0, "total_output_tokens": 123, "token_source": "chunks",
                   "mean_tpot_ms": None, "short_outputs": 2, "engine_requests": 40,
                   "median_engine_ttft_ms": 12.6}
        with open(os.path.join(run, "summary.json"), "w") as f:
            json.dump(summary, f)
        out = os.path.join(self.tmp, "out")
        plot.plot([run], out)
        html = read(os.path.join(out, "report.html"))
        self.assertIn("<th>Total generated chunks (no usage)</th><td>123</td>", html)
        self.assertNotIn("Total generated tokens", html)
        self.assertIn("<th>Mean TPOT (ms)</th><td>n/a</td>", html)
        self.assertIn("<th>Short outputs (below forced length)</th><td>2</td>", html)
        self.assertIn("<th>Median engine TTFT (ms)</th><td>12.60</td>", html)

    def test_server_metrics_and_same_names(self):
        run = os.path.join(self.tmp, "run")
        shutil.copytree(os.path.join(RUNS, "basic"), run)
        with open(os.path.join(run, "server_metrics.jsonl"), "w") as f:
            for i in range(4):
                f.write(json.dumps({"t_ns": i * 10 ** 9, "metrics": {"vllm:num_requests_running": i % 3,
                                                                     "vllm:generation_tokens_total": 50 * i}}) + "\n")
        out = os.path.join(self.tmp, "out")
        plot.plot([run, os.path.join(run, "requests.jsonl")], out, title="two views")
        self.assertIsNone(plotcheck.check(out, BASE_PNGS + ["server_metrics.png"]))
        html = read(os.path.join(out, "report.html"))
        self.assertIn("<title>two views</title>", html)
        self.assertIn("run#2", html)                             # two runs called "run"
        self.assertIn("client was late", html)
        self.assertIn("<th>http_5xx</th>", html)
        self.assertEqual(plot.expected_files([sr.Run(run)]), BASE_PNGS + ["server_metrics.png"])

    def test_no_data_still_draws(self):
        run = os.path.join(self.tmp, "failed")
        os.makedirs(run)
        with open(os.path.join(run, "requests.jsonl"), "w") as f:
            f.write('{"index":0,"ok":false,"t_sched_ns":0,"t_send_ns":5,"t_end_ns":9,'
                    '"error":{"class":"connect","message":"refused"}}\n')
        out = os.path.join(self.tmp, "out")
        plot.plot([run], out)
        self.assertIsNone(plotcheck.check(out, BASE_PNGS))

    def test_exit_codes(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertEqual(plot.main([os.path.join(RUNS, "bad"), "-o", os.path.join(self.tmp, "x")]), 3)
            self.assertEqual(plot.main([os.path.join(RUNS, "none"), "-o", os.path.join(self.tmp, "y")]), 4)
            with self.assertRaises(SystemExit) as e:
                plot.main(["-o", os.path.join(self.tmp, "z")])
            self.assertEqual(e.exception.code, 2)
            with self.assertRaises(SystemExit) as e:
                plot.main([os.path.join(RUNS, "a"), "-o", self.tmp, "--names", "x,y"])
            self.assertEqual(e.exception.code, 2)
            self.assertEqual(plot.main([os.path.join(RUNS, "a"), "-o", os.path.join(self.tmp, "ok")]), 0)
        self.assertIn('bad/requests.jsonl:2: field "t_end_ns"', err.getvalue())


if __name__ == "__main__":
    unittest.main()
