"""test_engine.py — a small Python engine with sagellm-core's interface, for
the tests of the Python bridge (`--engine python:test_engine:make_engine`).

    await engine.start(); engine.is_running; await engine.stop()
    await engine.generate(prompt=..., max_tokens=..., temperature=...,
                          top_p=..., request_id=..., trace_id=...)
        -> object with output_text, output_tokens (a list), prompt_tokens,
           finish_reason, metrics.timestamps.{queued,scheduled,executed,
           completed}_at (time.time() seconds, as sagellm-core stamps them)
           and metrics.ttft_ms
    async for event in engine.stream(request)    (mode "stream" only)
        -> events with delta_text, token_ids (the new ones) and timestamp
           (time.monotonic() seconds); the last one carries finish_reason,
           output_tokens, prompt_tokens and metrics

A prompt containing `fail_on` (default "FAIL") makes the engine raise
inside the request: at once for generate, after two tokens for stream.
"""

import asyncio
import time
import types


class GenerateEngine:
    def __init__(self, token_delay=0.0005, fail_on="FAIL", start_fails=False, max_tokens=16):
        self.token_delay = float(token_delay)
        self.fail_on = fail_on
        self.start_fails = bool(start_fails)
        self.default_max_tokens = int(max_tokens)
        self.is_running = False
        self.requests = 0

    async def start(self):
        if self.start_fails:
            raise RuntimeError("the test engine refuses to start")
        await asyncio.sleep(0)
        self.is_running = True

    async def stop(self):
        self.is_running = False

    def _metrics(self, queued, scheduled, first, completed):
        ts = types.SimpleNamespace(queued_at=queued, scheduled_at=scheduled,
                                   executed_at=scheduled, completed_at=completed)
        return types.SimpleNamespace(timestamps=ts, ttft_ms=(first - queued) * 1000.0)

    async def generate(self, prompt, max_tokens=None, temperature=1.0, top_p=1.0,
                       request_id=None, trace_id=None):
        queued = time.time()
        self.requests += 1
        if not self.is_running:
            raise RuntimeError("the test engine is not running")
        if self.fail_on and self.fail_on in (prompt or ""):
            raise ValueError("the test engine was asked to fail (request %s)" % request_id)
        n = int(max_tokens or self.default_max_tokens)
        await asyncio.sleep(self.token_delay)
        scheduled = time.time()
        first = None
        for _ in range(n):
            await asyncio.sleep(self.token_delay)
            if first is None:
                first = time.time()
        completed = time.time()
        return types.SimpleNamespace(
            request_id=request_id, output_text=" tok" * n, output_tokens=list(range(n)),
            prompt_tokens=len((prompt or "").split()), finish_reason="length",
            metrics=self._metrics(queued, scheduled, first or completed, completed))


class StreamEngine(GenerateEngine):
    async def stream(self, request):
        queued = time.monotonic()
        if not self.is_running:
            raise RuntimeError("the test engine is not running")
        n = int(getattr(request, "max_tokens", None) or self.default_max_tokens)
        await asyncio.sleep(self.token_delay)
        scheduled = time.monotonic()
        first = None
        for i in range(n):
            await asyncio.sleep(self.token_delay)
            if self.fail_on and self.fail_on in (request.prompt or "") and i == 2:
                raise ValueError("the test engine failed in the middle of a stream")
            t = time.monotonic()
            if first is None:
                first = t
            yield types.SimpleNamespace(delta_text=" tok", token_ids=[i], timestamp=t)
        completed = time.monotonic()
        ts = types.SimpleNamespace(queued_at=queued, scheduled_at=scheduled,
                                   completed_at=completed)
        yield types.SimpleNamespace(
            delta_text="", finish_reason="length", output_tokens=n,
            prompt_tokens=len((request.prompt or "").split()),
            metrics=types.SimpleNamespace(timestamps=ts))


def make_engine(mode="generate", **config):
    """The factory: mode "generate" (no stream method) or "stream"."""
    if mode == "stream":
        return StreamEngine(**config)
    if mode == "generate":
        return GenerateEngine(**config)
    raise ValueError("mode must be 'generate' or 'stream', got %r" % (mode,))
