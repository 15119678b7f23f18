#!/usr/bin/env python3
"""A small HTTPS server with fixed OpenAI-shaped answers, for the capture
proxy's TLS tests: POST .../chat/completions answers a streamed (SSE,
chunked) or a JSON completion (Content-Length) as the body's "stream"
asks; a body without "messages" gets a 400 JSON error.

usage: tls_upstream.py CERT KEY PORT_FILE [CLIENT_CA]
Listens on 127.0.0.1, on a free port written to PORT_FILE; stops on SIGTERM.
With CLIENT_CA, clients must present a certificate that CA signed.
"""
import json
import os
import signal
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = ["Hello", " from", " TLS"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            body = {}
        if not self.path.split("?")[0].endswith("/chat/completions") or "messages" not in body:
            self.send_json(400, {"error": {"message": "messages is required", "type": "invalid_request_error"}})
            return
        usage = {"prompt_tokens": 7, "completion_tokens": len(WORDS), "total_tokens": 7 + len(WORDS)}
        if not body.get("stream"):
            self.send_json(200, {"id": "c1", "object": "chat.completion", "model": body.get("model"),
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": "".join(WORDS)}}],
                                 "usage": usage})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for w in WORDS:
            ev = {"id": "c1", "object": "chat.completion.chunk",
                  "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
            self.chunk("data: %s\n\n" % json.dumps(ev))
        ev = {"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": usage}
        self.chunk("data: %s\n\n" % json.dumps(ev))
        self.chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    cert, key, port_file = sys.argv[1:4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if len(sys.argv) > 4:
        ctx.load_verify_locations(sys.argv[4])
        ctx.verify_mode = ssl.CERT_REQUIRED
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
