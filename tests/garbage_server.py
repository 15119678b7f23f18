#!/usr/bin/env python3
"""garbage_server.py PORT_FILE MODE — a deliberately broken HTTP server for
replay tests, on 127.0.0.1 (a free port written to PORT_FILE).

MODE garbage: 200 text/event-stream whose events are not JSON.
MODE truncated: a valid first event, then the connection closes mid-event.
MODE nodone: valid events, no data: [DONE].
Serves until killed; every connection is handled in its own thread."""
import http.server
import sys
import loopback_http

MODE = sys.argv[2]
CHUNK = ('data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,'
         '"delta":{"content":" hi"},"finish_reason":null}]}\n\n')


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = b'{"object":"list","data":[{"id":"garbage-model","object":"model"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        if MODE == "garbage":
            self.wfile.write(b"data: \x00\xffnot json at all {{{\n\n")
        elif MODE == "truncated":
            self.wfile.write(CHUNK.encode() + b'data: {"id":"x","choi')
        else:
            self.wfile.write((CHUNK * 3).encode())
        self.wfile.flush()
        self.close_connection = True


loopback_http.serve(H, sys.argv[1])
