#!/usr/bin/env python3
"""proxy_client.py MODE PORT ARGS... — misbehaving clients of `capture --proxy`
on 127.0.0.1, with raw sockets. Every socket has a timeout and every loop a
bound. Prints what happened as JSON on stdout for the test to check.

  targets PORT SECRET TARGET...  one POST per target (bytes as given, after
                                 \\xNN unescaping), with Authorization:
                                 Bearer SECRET: {"target": status, ...}
  halfclose PORT N               N partial requests in turn ("GE", the
                                 headers of a Content-Length: 100 POST, ...),
                                 each shut down for writing, then closed; then
                                 one whole request: {"status": S}
  slowloris PORT KIND LIMIT      KIND head: a header byte a second; KIND
                                 body: whole headers, then a body byte a
                                 second; stops after LIMIT s. Meanwhile, after
                                 a second, one normal request: {"dropped_after":
                                 S or null, "normal_status": S}
  hold PORT PID N MB             N connections each declaring an MB MiB body
                                 and sending all of it but one byte; then a
                                 chunked MB MiB body sent whole, a normal
                                 request, the proxy's VmRSS (kB), then all
                                 closed: {"holds": [status or null...],
                                 "retry_after": the 503s said Retry-After,
                                 "chunked": S, "normal": S, "rss_kb": N}
"""
import json
import select
import socket
import sys
import threading
import time

BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":2}'


def conn(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


LAST = {"head": b""}


def read_status(s, timeout=10):
    """The status of the response on s, or None (closed or nothing); the
    response's head goes to LAST["head"]."""
    s.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < 65536:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except OSError:
        pass
    LAST["head"] = data.split(b"\r\n\r\n")[0]
    parts = data.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


def normal(port, timeout=10):
    s = conn(port, timeout)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(BODY), BODY))
    st = read_status(s, timeout)
    s.close()
    return st


def targets(port, secret, tlist):
    out = {}
    for t in tlist:
        raw = t.encode("latin-1").decode("unicode_escape").encode("latin-1")
        s = conn(port)
        s.sendall(b"POST " + raw + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                  secret.encode() + b"\r\nx-api-key: " + secret.encode() +
                  b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY))
        out[t] = read_status(s)
        s.close()
    return out


def halfclose(port, n):
    partial = [b"GE", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
               b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mod",
               b"GET /v1/models HTTP/1.1\r\nHost: x\r\n"]
    for i in range(n):
        s = conn(port)
        s.sendall(partial[i % len(partial)])
        s.shutdown(socket.SHUT_WR)
        s.close()
    return {"status": normal(port, 20)}


def slowloris(port, kind, limit):
    s = conn(port)
    if kind == "head":
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
        drip = b"X-Slow: " + b"a" * 200
    else:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n")
        drip = b"b" * 300
    res = {}
    th = threading.Thread(target=lambda: res.setdefault("normal_status", (time.sleep(1), normal(port))[1]))
    th.start()
    t0 = time.monotonic()
    dropped = None
    for i in range(int(limit)):
        r, _, _ = select.select([s], [], [], 1.0)
        if r:
            try:
                b = s.recv(4096)
            except OSError:
                b = b""
            if not b or not b.startswith(b"HTTP/"):
                dropped = time.monotonic() - t0
                break
        try:
            s.send(drip[i:i + 1])
        except OSError:
            dropped = time.monotonic() - t0
            break
    s.close()
    th.join(30)
    res["dropped_after"] = dropped
    return res


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def hold(port, pid, n, mb):
    size = mb << 20
    socks, holds, retry = [], [], False
    chunk = b"x" * 65536
    for i in range(n):
        s = conn(port)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        sent, status = 0, None
        while sent < size - 1 and status is None:
            _, w, _ = select.select([], [s], [], 5)
            r, _, _ = select.select([s], [], [], 0)
            if r:
                status = read_status(s, 5)
                break
            if not w:
                break
            try:
                sent += s.send(chunk[:min(len(chunk), size - 1 - sent)])
            except OSError:
                status = read_status(s, 5)
                break
        socks.append(s)
        holds.append(status)
        if status == 503:
            retry = b"\r\nretry-after:" in LAST["head"].lower()
    c = conn(port, 30)
    c.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    left = size
    try:
        while left:
            k = min(left, 1 << 20)
            c.sendall(b"%x\r\n" % k + b"y" * k + b"\r\n")
            left -= k
        c.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    chunked = read_status(c, 30)
    c.close()
    out = {"holds": holds, "retry_after": retry, "chunked": chunked, "normal": normal(port), "rss_kb": rss_kb(pid)}
    for s in socks:
        s.close()
    return out


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    a = sys.argv[3:]
    if mode == "targets":
        out = targets(port, a[0], a[1:])
    elif mode == "halfclose":
        out = halfclose(port, int(a[0]))
    elif mode == "slowloris":
        out = slowloris(port, a[0], float(a[1]))
    else:
        out = hold(port, int(a[0]), int(a[1]), int(a[2]))
    print(json.dumps(out))


main()
