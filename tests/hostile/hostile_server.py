#!/usr/bin/env python3
"""hostile_server.py PORT_FILE MODE [LIFETIME_S] — a deliberately hostile
OpenAI-like server for replay tests, on 127.0.0.1 (a free port written to
PORT_FILE once it listens). It exits by itself after LIFETIME_S seconds
(default 60), whatever happens.

GET (the replay's /v1/models probe) always answers a model list. POST:

MODE flood: the request with X-Request-Id 0 gets a 200 text/event-stream
  that streams small chat chunks without pause until the client leaves or
  the lifetime ends, and never sends [DONE]. Every other request gets a
  short normal stream (three chunks, usage, [DONE]).
MODE flood-empty: the same, but the flood's chunks carry an empty delta (no
  content: a client counts no event and keeps no gap for them).
MODE burst: the request with X-Request-Id 0 gets 100000 chunks of one
  token written at once (about 13 MB), then usage and [DONE]; the others a
  short normal stream. A client that pauses and resumes the transfer must
  still count every chunk.
MODE 302, 307: every POST is answered with that status, an empty body and
  "Location: http://127.0.0.1:TRAP/v1/chat/completions", where TRAP is a
  second listener that answers nothing: it appends everything any
  connection sends it to PORT_FILE.trap (created empty at start), so a test
  can assert that nothing followed the redirect.

Every connection is handled in its own thread."""
import http.server
import os
import socket
import sys
import threading
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import loopback_http  # noqa: E402  (tests/)

PORT_FILE = sys.argv[1]
MODE = sys.argv[2]
LIFETIME = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
DEADLINE = time.monotonic() + LIFETIME
CHUNK = (b'data: {"id":"h","object":"chat.completion.chunk","choices":[{"index":0,'
         b'"delta":{"content":"x"},"finish_reason":null}]}\n\n')
EMPTY = (b'data: {"id":"h","object":"chat.completion.chunk","choices":[{"index":0,'
         b'"delta":{},"finish_reason":null}]}\n\n')
FINAL = (b'data: {"id":"h","object":"chat.completion.chunk","choices":[{"index":0,'
         b'"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,'
         b'"completion_tokens":3,"total_tokens":6}}\n\ndata: [DONE]\n\n')
TRAP_PORT = 0


def trap_main(lsock):
    """Accepts connections on the trap listener; records every byte."""
    path = PORT_FILE + ".trap"
    while time.monotonic() < DEADLINE:
        lsock.settimeout(0.5)
        try:
            c, _ = lsock.accept()
        except socket.timeout:
            continue
        c.settimeout(1.0)
        with open(path, "ab") as f:
            f.write(b"CONNECTION\n")
            try:
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    f.write(b)
            except OSError:
                pass
        c.close()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = b'{"object":"list","data":[{"id":"hostile-model","object":"model"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def flood(self):
        block = (EMPTY if MODE == "flood-empty" else CHUNK) * 512
        try:
            while time.monotonic() < DEADLINE:
                self.wfile.write(block)
        except OSError:
            pass
        self.close_connection = True

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        if MODE in ("302", "307"):
            self.send_response(int(MODE))
            self.send_header("Location", "http://127.0.0.1:%d/v1/chat/completions" % TRAP_PORT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.headers.get("X-Request-Id") == "0" and MODE == "burst":
            self.wfile.write(CHUNK * int(os.environ.get("BURST_N", "100000")) + FINAL)
            self.wfile.flush()
            self.close_connection = True
            return
        if self.headers.get("X-Request-Id") == "0":
            self.flood()
            return
        self.wfile.write(CHUNK * 3 + FINAL)
        self.wfile.flush()
        self.close_connection = True


def main():
    global TRAP_PORT
    threading.Timer(LIFETIME, lambda: os._exit(0)).start()
    if MODE in ("302", "307"):
        trap = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        trap.bind(("127.0.0.1", 0))
        trap.listen(16)
        TRAP_PORT = trap.getsockname()[1]
        open(PORT_FILE + ".trap", "wb").close()
        threading.Thread(target=trap_main, args=(trap,), daemon=True).start()
    elif MODE not in ("flood", "flood-empty", "burst"):
        sys.exit("hostile_server.py: unknown mode " + MODE)
    loopback_http.serve(H, PORT_FILE)


main()
