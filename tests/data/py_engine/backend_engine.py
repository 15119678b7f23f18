"""backend_engine.py — a Python engine shaped like the backends the original
Python benchmark drove: it has generate() only, no stream(), and answers a
whole request at once.

    out = await engine.generate(prompt, max_tokens, temperature, top_p,
                                request_id, trace_id)
    out.output_text, out.output_tokens (a count), out.prompt_tokens
    out.metrics.ttft_ms                 the engine's first-token time, ms from
                                        metrics.timestamps.queued_at
    out.metrics.timestamps              queued_at, scheduled_at, completed_at
                                        in time.time() milliseconds (epoch ms)

The engine waits `queue_ms` before it schedules a request, `prefill_ms`
before the first token and `decode_ms` per further token, so the engine's
view (first token after queue + prefill) is far below the client's, which
only sees the whole answer at the end.
"""

import asyncio
import time
import types


class BackendEngine:
    def __init__(self, queue_ms=2.0, prefill_ms=5.0, decode_ms=3.0):
        self.queue_s = float(queue_ms) / 1000.0
        self.prefill_s = float(prefill_ms) / 1000.0
        self.decode_s = float(decode_ms) / 1000.0
        self.is_running = True

    async def generate(self, prompt, max_tokens, temperature, top_p, request_id, trace_id):
        queued = time.time()
        n = int(max_tokens or 16)
        await asyncio.sleep(self.queue_s)
        scheduled = time.time()
        await asyncio.sleep(self.prefill_s)
        first = time.time()
        await asyncio.sleep(self.decode_s * max(n - 1, 0))
        completed = time.time()
        ts = types.SimpleNamespace(queued_at=queued * 1000.0, scheduled_at=scheduled * 1000.0,
                                   completed_at=completed * 1000.0)
        metrics = types.SimpleNamespace(ttft_ms=(first - queued) * 1000.0, timestamps=ts)
        return types.SimpleNamespace(output_text=" tok" * n, output_tokens=n,
                                     prompt_tokens=len((prompt or "").split()),
                                     metrics=metrics)


def make_engine(**config):
    return BackendEngine(**config)
