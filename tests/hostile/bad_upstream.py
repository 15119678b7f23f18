#!/usr/bin/env python3
"""bad_upstream.py PORT_FILE MODE [ARG] — a hostile HTTP server for replay
tests, on 127.0.0.1 (a free port written to PORT_FILE). GET answers a model
list; POST answers by MODE. Exits by itself after 120 s at most.

MODE gzipbomb: 200 text/event-stream, Content-Encoding: gzip, a body of
    about 200 KB that inflates to 200 MB ("data: " and one line of 'a').
MODE info: ARG (default 20000) interim responses (100 Continue and 103
    Early Hints in turn), then a complete streamed answer.
MODE longline: 200 text/event-stream, then "data: " and ARG MB (default 150)
    of 'a' with no newline, streamed 1 MB at a time, then close.
MODE redirect: 307 to http://127.0.0.1:ARG/v1/chat/completions.
MODE hugelength: 200 text/event-stream with a Content-Length of 10^20 (past
    any 64-bit length), then a complete streamed answer and close.
MODE watch: records every connection and the bytes it sent (up to 64 KB) in
    ARG, one "connection" line then the bytes; answers nothing.
Every connection is handled in its own thread."""
import os
import socket
import sys
import threading
import time
import zlib

MODE = sys.argv[2]
ARG = sys.argv[3] if len(sys.argv) > 3 else None
LIFETIME = 120
CHUNK = (b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"bad",'
         b'"choices":[{"index":0,"delta":{"content":" hi"},"finish_reason":%s}]}\n\n')
MODELS = b'{"object":"list","data":[{"id":"bad","object":"model"}]}'
LOCK = threading.Lock()


def read_request(c):
    """Reads one request's head and Content-Length body (bounded); returns the head."""
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 1 << 20:
        d = c.recv(65536)
        if not d:
            return None
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = min(int(v.strip() or 0), 1 << 24)
    while len(body) < n:
        d = c.recv(65536)
        if not d:
            break
        body += d
    return head


def send_head(c, status, ctype, extra=b"", length=None):
    h = b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype + b"\r\n" + extra
    h += b"Content-Length: %d\r\n" % length if length is not None else b"Connection: close\r\n"
    c.sendall(h + b"\r\n")


def gzip_bomb():
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [z.compress(b"data: ")]
    block = b"a" * (1 << 20)
    for _ in range(200):
        out.append(z.compress(block))
    out.append(z.flush())
    return b"".join(out)


def answer_post(c):
    if MODE == "gzipbomb":
        body = BOMB
        send_head(c, b"200 OK", b"text/event-stream", b"Content-Encoding: gzip\r\n", len(body))
        c.sendall(body)
    elif MODE == "info":
        n = int(ARG or 20000)
        for i in range(n):
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" if i % 2 == 0
                      else b"HTTP/1.1 103 Early Hints\r\nLink: </x.css>; rel=preload\r\n\r\n")
        send_head(c, b"200 OK", b"text/event-stream")
        c.sendall(CHUNK % b"null" + CHUNK % b'"stop"' + b"data: [DONE]\n\n")
    elif MODE == "longline":
        send_head(c, b"200 OK", b"text/event-stream")
        c.sendall(b"data: ")
        block = b"a" * (1 << 20)
        for _ in range(int(ARG or 150)):
            c.sendall(block)
    elif MODE == "hugelength":
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  b"Content-Length: 100000000000000000000\r\nConnection: close\r\n\r\n")
        c.sendall(CHUNK % b"null" + CHUNK % b'"stop"' + b"data: [DONE]\n\n")
    elif MODE == "redirect":
        loc = b"http://127.0.0.1:%s/v1/chat/completions" % ARG.encode()
        send_head(c, b"307 Temporary Redirect", b"application/json", b"Location: " + loc + b"\r\n", 2)
        c.sendall(b"{}")


def watch(c):
    c.settimeout(5)
    got = b""
    try:
        while len(got) < 65536:
            d = c.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass
    with LOCK, open(ARG, "ab") as f:
        f.write(b"connection\n" + got + b"\n")


def handle(c):
    try:
        c.settimeout(30)
        if MODE == "watch":
            return watch(c)
        while True:
            head = read_request(c)
            if head is None:
                return
            if head.startswith(b"GET "):
                send_head(c, b"200 OK", b"application/json", b"", len(MODELS))
                c.sendall(MODELS)
                continue
            answer_post(c)
            return
    except OSError:
        pass
    finally:
        c.close()


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    s.settimeout(1)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(tmp, sys.argv[1])
    end = time.monotonic() + LIFETIME
    while time.monotonic() < end:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(c,), daemon=True).start()


BOMB = gzip_bomb() if MODE == "gzipbomb" else b""
if __name__ == "__main__":
    main()
