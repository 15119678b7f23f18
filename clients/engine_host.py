# engine_host.py — the Python half of the Python bridge (engine_host_py.c),
# run once in the embedded interpreter as the module `_sagellm_bridge`. It
# drives an engine object with sagellm-core's interface on one asyncio loop
# and reports through two C functions, emit_tokens(ctx, count, text,
# engine_ns) and emit_done(ctx, finish_reason, error, prompt_tokens,
# completion_tokens, cached_tokens, t_queued, t_scheduled, t_first_token,
# t_finished). docs/engine-abi.md ("Python engines") describes what it
# accepts from the engine. The build embeds this file in the binary
# (clients/engine_host_py_src.S); it is not imported from disk.
import asyncio, importlib, inspect, json, sys, time, types

ABORT = ('abort', None, -1, -1, -1, -1, -1, -1, -1)
BIG = 1 << 62

def _get(o, k, d=None):
    if o is None:
        return d
    if isinstance(o, dict):
        return o.get(k, d)
    return getattr(o, k, d)

def _first(o, *keys):
    for k in keys:
        v = _get(o, k)
        if v is not None:
            return v
    return None

DAY_NS = 86400 * 10 ** 9

def mono_ns(v):
    # An engine time as CLOCK_MONOTONIC ns (-1 unknown). The number may be
    # s, ms, us or ns, on time.monotonic()/perf_counter() or on time.time():
    # of those readings, the one closest to now is taken, if it is within a
    # day of now (an engine's times of a request just made).
    if v is None or isinstance(v, bool):
        return -1
    try:
        v = float(v)
    except (TypeError, ValueError):
        return -1
    if not 0 < v < 1e20:
        return -1
    now = time.monotonic_ns()
    off = time.time_ns() - now
    best = -1
    for scale in (1e9, 1e6, 1e3, 1.0):
        for shift in (0, off):
            t = int(v * scale) - shift
            if t >= 0 and abs(t - now) < DAY_NS and (best < 0 or abs(t - now) < abs(best - now)):
                best = t
    return best

def count(v):
    if v is None or isinstance(v, (bool, str, bytes)):
        return -1
    if hasattr(v, '__len__'):
        return min(len(v), BIG)
    try:
        return max(min(int(v), BIG), -1)
    except (TypeError, ValueError, OverflowError):
        return -1

def _times(m):
    ts = _get(m, 'timestamps')
    q = mono_ns(_get(ts, 'queued_at'))
    s = mono_ns(_get(ts, 'scheduled_at'))
    if s < 0:
        s = mono_ns(_get(ts, 'executed_at'))
    f = mono_ns(_get(ts, 'first_token_at'))
    if f < 0 and q >= 0:
        try:
            ttft = float(_get(m, 'ttft_ms'))
            if 0 < ttft < 1e12:
                f = q + int(ttft * 1e6)
        except (TypeError, ValueError):
            pass
    return q, s, f, mono_ns(_get(ts, 'completed_at'))

def _str(v):
    return None if v is None else str(v)

def describe(e):
    s = str(e)
    return type(e).__name__ + (': ' + s if s else '')

OPTIONAL = ('min_tokens', 'ignore_eos', 'seed', 'model', 'prompt_token_ids')

BASIC = ('prompt', 'max_tokens', 'temperature', 'top_p', 'request_id', 'trace_id')

def _params(fn):
    try:
        return inspect.signature(fn).parameters if fn is not None else None
    except (TypeError, ValueError):
        return None

def _accepts(fn):
    ps = _params(fn)
    if ps is None:
        return ()
    if any(p.kind == p.VAR_KEYWORD for p in ps.values()):
        return OPTIONAL
    return tuple(k for k in OPTIONAL if k in ps)

def _required(fn):
    # The basic arguments generate() cannot do without (no default): they
    # are passed as None when the request leaves them to the engine.
    ps = _params(fn)
    if ps is None:
        return ()
    return tuple(k for k in BASIC if k in ps and ps[k].default is ps[k].empty and
                 ps[k].kind in (ps[k].POSITIONAL_OR_KEYWORD, ps[k].KEYWORD_ONLY))

class Driver:
    def __init__(self, loop, engine, stream, emit_tokens, emit_done):
        self.loop, self.engine = loop, engine
        self.emit_tokens, self.emit_done = emit_tokens, emit_done
        self.tasks, self.ctx, self.stopped = {}, {}, False
        name = type(engine).__name__
        has_stream = callable(getattr(engine, 'stream', None))
        gen = getattr(engine, 'generate', None)
        if stream == 'auto':
            stream = has_stream
        elif stream and not has_stream:
            raise TypeError(name + ' has no stream() method (python_stream is true)')
        if not stream and not callable(gen):
            raise TypeError(name + ' has no generate() method')
        self.stream = bool(stream)
        self.extra = _accepts(gen if callable(gen) else None)
        self.required = _required(gen if callable(gen) else None)

    async def start(self):
        f = getattr(self.engine, 'start', None)
        if callable(f):
            r = f()
            if inspect.isawaitable(r):
                await r

    def running(self):
        v = getattr(self.engine, 'is_running', None)
        if callable(v):
            v = v()
        return True if v is None else bool(v)

    def info(self):
        t = type(self.engine)
        return json.dumps({'bridge': 'python', 'python': sys.version.split()[0],
                           'engine_class': t.__module__ + '.' + t.__qualname__,
                           'path': 'stream' if self.stream else 'generate',
                           'generate_extra_args': list(self.extra),
                           'is_running': self.running(), 'in_flight': len(self.ctx)})

    # Called on the loop thread by the C side for each submitted request.
    def submit(self, ctx, h, kw):
        t = self.loop.create_task(self._run(h, kw))
        self.ctx[h], self.tasks[h] = ctx, t
        t.add_done_callback(lambda t, h=h: self._task_done(h, t))

    def cancel(self, h):
        t = self.tasks.get(h)
        if t is not None:
            t.cancel()

    def _finish(self, h, res):
        self.tasks.pop(h, None)
        ctx = self.ctx.pop(h, None)
        if ctx is not None:
            self.emit_done(ctx, *res)

    def _task_done(self, h, t):
        # Only matters when _run never ran (cancelled before its start).
        if t.cancelled():
            self._finish(h, ABORT)
        elif t.exception() is not None:
            self._finish(h, (None, describe(t.exception())) + ABORT[2:])
        else:
            self._finish(h, ABORT)

    async def _run(self, h, kw):
        try:
            if self.stream:
                res = await self._stream(h, kw)
            else:
                res = await self._generate(h, kw)
        except asyncio.CancelledError:
            res = ABORT
        except BaseException as e:
            res = (None, describe(e)) + ABORT[2:]
        self._finish(h, res)

    def _gen_kwargs(self, kw):
        g = {k: kw[k] for k in BASIC if k in kw}
        for k in self.required:
            g.setdefault(k, None)
        for k in self.extra:
            if k in kw:
                g[k] = kw[k]
        return g

    async def _generate(self, h, kw):
        r = self.engine.generate(**self._gen_kwargs(kw))
        out = (await r) if inspect.isawaitable(r) else r
        text = _first(out, 'output_text', 'text')
        text = '' if text is None else str(text)
        n = count(_get(out, 'output_tokens'))
        if n < 0:
            n = count(_get(out, 'completion_tokens'))
        m = _get(out, 'metrics')
        q, s, f, e = _times(m)
        if n > 0 or text:
            self.emit_tokens(self.ctx[h], n, text, e)
        return (_str(_get(out, 'finish_reason')), None, count(_get(out, 'prompt_tokens')), n,
                count(_get(out, 'cached_tokens')), q, s, f, e)

    async def _stream(self, h, kw):
        it = self.engine.stream(types.SimpleNamespace(stream=True, **kw))
        if inspect.isawaitable(it) and not hasattr(it, '__aiter__'):
            it = await it
        ctx, total, first, last = self.ctx[h], 0, -1, None
        async for ev in it:
            last = ev
            if isinstance(ev, str):
                text, n, t = ev, 1, -1
            else:
                text = _first(ev, 'delta_text', 'delta', 'text')
                text = text if isinstance(text, str) else ''
                n = count(_first(ev, 'new_token_ids', 'token_ids', 'num_tokens', 'count'))
                if n < 0:
                    n = 1 if text else 0
                t = mono_ns(_first(ev, 'timestamp', 'time'))
            if n <= 0 and not text:
                continue
            if total == 0:
                first = t
            total += max(n, 0)
            self.emit_tokens(ctx, n, text, t)
        if isinstance(last, str):
            last = None
        q, s, f, e = _times(_get(last, 'metrics'))
        if f < 0:
            f = first
        n = count(_get(last, 'output_tokens'))
        return (_str(_get(last, 'finish_reason')), None, count(_get(last, 'prompt_tokens')),
                n if n >= 0 else total, count(_get(last, 'cached_tokens')), q, s, f, e)

    async def shutdown(self):
        ts = list(self.tasks.values())
        for t in ts:
            t.cancel()
        if ts:
            await asyncio.gather(*ts, return_exceptions=True)
        for h in list(self.ctx):
            self._finish(h, ABORT)
        if self.stopped:
            return
        self.stopped = True
        f = getattr(self.engine, 'stop', None)
        if callable(f):
            try:
                r = f()
                if inspect.isawaitable(r):
                    await r
            except Exception:
                pass

def _configure(cfg_json):
    cfg = json.loads(cfg_json)
    if not isinstance(cfg, dict):
        raise TypeError('the engine configuration must be a JSON object')
    path = cfg.pop('python_path', None)
    for p in reversed([path] if isinstance(path, str) else list(path or [])):
        if p not in sys.path:
            sys.path.insert(0, str(p))
    stream = cfg.pop('python_stream', 'auto')
    if isinstance(stream, str) and stream != 'auto':
        stream = stream.lower() in ('1', 'true', 'yes', 'on')
    bad = [k for k in cfg if k.startswith('python_')]
    if bad:
        raise ValueError('unknown bridge option ' + bad[0] +
                         ' (the bridge knows python_path and python_stream)')
    return cfg, stream

async def _create(loop, module, factory, kwargs, stream, emit_tokens, emit_done):
    mod = importlib.import_module(module)
    fac = getattr(mod, factory, None)
    if not callable(fac):
        raise AttributeError('module ' + module + ' has no callable ' + factory)
    eng = fac(**kwargs)
    if inspect.isawaitable(eng):
        eng = await eng
    return Driver(loop, eng, stream, emit_tokens, emit_done)

class Bridge:
    def __init__(self, efd, wake):
        self.loop = asyncio.new_event_loop()
        self.driver = None
        self.loop.add_reader(efd, wake)

    def run(self):
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            if self.driver is not None:
                self.loop.run_until_complete(self.driver.shutdown())
        finally:
            self.loop.close()

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def create(self, module, factory, cfg_json, emit_tokens, emit_done):
        kwargs, stream = _configure(cfg_json)
        self.driver = self.call(_create(self.loop, module, factory, kwargs, stream,
                                        emit_tokens, emit_done))

    def start(self):
        self.call(self.driver.start())

    def shutdown(self):
        try:
            if self.driver is not None and self.loop.is_running():
                self.call(self.driver.shutdown())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
