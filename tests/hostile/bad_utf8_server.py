#!/usr/bin/env python3
"""bad_utf8_server.py PORT_FILE — a loopback server for tests/hostile/json.sh
whose every answer carries bytes that are not UTF-8, where replay copies
server text into its records. On 127.0.0.1, a free port written to
PORT_FILE; serves until killed.

GET /v1/models: a model id with a stray byte. POST, by X-Request-Id % 4:
0: 400 with a JSON error whose message holds invalid UTF-8;
1: 400 text/plain of raw bytes;
2: 200 text/event-stream with an `event: error` of invalid UTF-8;
3: 400 with a gzip body marked Content-Encoding: gzip (left undecoded)."""
import gzip
import os
import http.server
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import loopback_http  # noqa: E402  (tests/)


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, ctype, body, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(200, "application/json",
                    b'{"object":"list","data":[{"id":"bad\xff-model","object":"model"}]}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        try:
            kind = int(self.headers.get("X-Request-Id") or 0) % 4
        except ValueError:
            kind = 0
        if kind == 0:
            self.answer(400, "application/json",
                        b'{"error":{"message":"bad \xff\xfe input \xc3(","type":"x\xe9"}}')
        elif kind == 1:
            self.answer(400, "text/plain", b"plain \x80\x81 garbage \xed\xa0\x80")
        elif kind == 2:
            self.answer(200, "text/event-stream",
                        b"event: error\ndata: stream broke \xf8\x88 here\n\n")
        else:
            self.answer(400, "application/json", gzip.compress(b'{"error":"zipped"}'),
                        [("Content-Encoding", "gzip")])


loopback_http.serve(H, sys.argv[1])
