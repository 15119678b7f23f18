#!/usr/bin/env python3
"""bench/vllm_client.py — vLLM's own benchmark client on bench/replay.sh's
workload, so that the replay's CPU per request is compared with it in the
same run instead of with a figure from another day.

Not part of the product, and no vLLM code is in it: it loads the request
function of a vLLM source tree or installation the user has
(vllm/benchmarks/lib/endpoint_request_func.py, the one `vllm bench serve`
uses) by its file path, without importing the vllm package (which would
pull in torch), and drives it the way `vllm bench serve` does
(vllm/benchmarks/serve.py, benchmark() and get_request()):

  - one aiohttp ClientSession over a TCPConnector with no connection
    limit, keep-alive 60 s, trust_env, a 6-hour timeout;
  - one request sent first and awaited (the "initial test run");
  - the heap frozen for the garbage collector (freeze_gc_heap);
  - arrivals at a constant rate (--burstiness inf: the i-th request due
    (i+1)/RATE s after the start), each due time awaited with
    asyncio.sleep against time.time(), then asyncio.create_task of the
    request function; all tasks gathered at the end;
  - no progress bar (--disable-tqdm; the bar costs vLLM's client more).

The request is the body the replay sends (bench/vllm_body.py): its messages
as the chat messages, max_tokens as the output length, ignore_eos, and its
other members (min_tokens, stream_options with continuous_usage_stats) as
the extra body vLLM's client merges in, so the server streams the same
events to both clients. Each request gets its own RequestFuncInput with a
request id ("vllm-bench-" and its index), which vLLM's client sends as
X-Request-Id, as `vllm bench serve` does with its --request-id-prefix.
PER_REQUEST, when given, receives one JSON line per request: "id", "ok",
"ttft_ms" (null when it failed) and "itl_ms" (its gaps).

    python3 bench/vllm_client.py VLLM URL BODYFILE RATE COUNT [PER_REQUEST]

VLLM: a vLLM source tree (the folder holding vllm/), or "installed" for the
vllm package Python finds. URL: the server's chat completions URL. Needs
Python 3.10+ and what that module imports (Debian: python3-aiohttp,
python3-regex, python3-tqdm).

Prints one line: requests= ok= events= cpu_s= wall_s= us_per_req=
lag_p50_us= lag_p99_us= ttft_p50_ms= ttft_p99_ms= itl_p50_ms= itl_p99_ms=
(cpu_s: this process's user + system time from the first scheduled
request until every answer is read; lag: the time the request function
started minus the request's due time; TTFT and ITL of the requests that
succeeded, as vLLM's client measures them: its ttft and its itl list,
percentiles by linear interpolation as numpy's). Exit status 2 on
bad use, 1 when the module cannot be loaded or the first request fails.
"""
import asyncio
import dataclasses
import gc
import importlib.util
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replay_stats import pct  # noqa: E402  (percentiles as the replay's summary computes them)

MODULE = os.path.join("vllm", "benchmarks", "lib", "endpoint_request_func.py")


def die(status, msg):
    print(f"vllm_client: {msg}", file=sys.stderr)
    sys.exit(status)


def module_path(where):
    if where == "installed":
        spec = importlib.util.find_spec("vllm")
        if spec is None or not spec.submodule_search_locations:
            die(1, "no vllm package is installed for this Python")
        root = os.path.dirname(list(spec.submodule_search_locations)[0])
    else:
        root = where
    path = os.path.join(root, MODULE)
    if not os.path.isfile(path):
        die(1, f"{path}: not found (VLLM must be the folder that holds vllm/)")
    return path


def load(path):
    spec = importlib.util.spec_from_file_location("vllm_endpoint_request_func", path)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except ImportError as e:
        die(1, f"{path}: {e} (Debian: apt-get install python3-aiohttp python3-regex python3-tqdm)")
    return mod


def request_input(mod, url, body):
    extra = {k: v for k, v in body.items()
             if k not in ("messages", "model", "max_tokens", "stream", "ignore_eos")}
    return mod.RequestFuncInput(prompt=body["messages"], api_url=url, prompt_len=0,
                                output_len=body["max_tokens"], model=body["model"],
                                ignore_eos=bool(body.get("ignore_eos")),
                                extra_body=extra or None)


def last_line(text):
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else "no error text"


def cpu_now():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def run(mod, url, body, rate, count, per_request):
    import aiohttp
    send = mod.async_request_openai_chat_completions
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300,
                                     use_dns_cache=True, keepalive_timeout=60,
                                     enable_cleanup_closed=True, force_close=False, ssl=False)
    session = aiohttp.ClientSession(connector=connector, trust_env=True,
                                    timeout=aiohttp.ClientTimeout(total=6 * 60 * 60))
    inp = request_input(mod, url, body)
    first = await send(request_func_input=dataclasses.replace(inp, request_id="vllm-bench-test"),
                       session=session)
    if not first.success:
        await session.close()
        die(1, f"the first request failed: {last_line(first.error)}")
    gc.collect()
    gc.freeze()
    due = [(i + 1) / rate for i in range(count)]
    cpu0, perf0, start_ts = cpu_now(), time.perf_counter(), time.time()
    tasks = []
    for i in range(count):
        pause = start_ts + due[i] - time.time()
        if pause > 0:
            await asyncio.sleep(pause)
        req = dataclasses.replace(inp, request_id=f"vllm-bench-{i}")
        tasks.append(asyncio.create_task(send(request_func_input=req, session=session)))
    outs = await asyncio.gather(*tasks)
    cpu1, perf1 = cpu_now(), time.perf_counter()
    await session.close()
    ok = [o for o in outs if o.success]
    lags = sorted(1e6 * (o.start_time - perf0 - due[i]) for i, o in enumerate(outs))
    events = sum(1 + len(o.itl) for o in ok)
    ttft = sorted(1e3 * o.ttft for o in ok)
    itl = sorted(1e3 * g for o in ok for g in o.itl)
    cpu = cpu1 - cpu0
    print(f"requests={count} ok={len(ok)} events={events} cpu_s={cpu:.3f} "
          f"wall_s={perf1 - perf0:.3f} us_per_req={1e6 * cpu / count:.2f} "
          f"lag_p50_us={pct(lags, 50):.1f} lag_p99_us={pct(lags, 99):.1f} "
          f"ttft_p50_ms={pct(ttft, 50):.3f} ttft_p99_ms={pct(ttft, 99):.3f} "
          f"itl_p50_ms={pct(itl, 50):.3f} itl_p99_ms={pct(itl, 99):.3f}")
    if per_request:
        with open(per_request, "w") as f:
            for i, o in enumerate(outs):
                f.write(json.dumps({"id": f"vllm-bench-{i}", "ok": o.success,
                                    "ttft_ms": 1e3 * o.ttft if o.success else None,
                                    "itl_ms": [1e3 * g for g in o.itl]}) + "\n")
    if len(ok) < count:
        errs = [last_line(o.error) for o in outs if not o.success][:3]
        print(f"vllm_client: {count - len(ok)} requests failed, e.g. {errs}", file=sys.stderr)


def main():
    if len(sys.argv) not in (6, 7):
        die(2, "usage: vllm_client.py VLLM URL BODYFILE RATE COUNT [PER_REQUEST]")
    where, url, body_file = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        rate, count = float(sys.argv[4]), int(sys.argv[5])
    except ValueError:
        die(2, "RATE must be a number and COUNT an integer")
    if rate <= 0 or count <= 0:
        die(2, "RATE and COUNT must be positive")
    try:
        with open(body_file) as f:
            body = json.load(f)
    except (OSError, ValueError) as e:
        die(2, f"{body_file}: {e}")
    mod = load(module_path(where))
    asyncio.run(run(mod, url, body, rate, count, sys.argv[6] if len(sys.argv) == 7 else None))


main()
