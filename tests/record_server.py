#!/usr/bin/env python3
"""record_server.py PORT_FILE LOG — a loopback stand-in for replay tests
that writes down exactly what arrived: one JSON line per request in LOG
with its method, path, headers (a list of [name, value] as received) and
body (the bytes, as hex). It answers like an OpenAI-protocol server: SSE
with usage when the body asks for stream, one JSON response otherwise;
/generate in LMDeploy's native shape; /v1/embeddings with an embedding.
On 127.0.0.1, a free port written to PORT_FILE; serves until killed."""
import http.server
import json
import sys
import threading
import loopback_http

LOCK = threading.Lock()
CHAT = {"id": "x", "object": "chat.completion", "model": "rec-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi there"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
CHUNK = {"id": "x", "object": "chat.completion.chunk", "model": "rec-model",
         "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
USAGE = {"id": "x", "object": "chat.completion.chunk", "model": "rec-model", "choices": [],
         "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
GEN = {"text": "hi", "output_ids": [7], "meta_info": {"prompt_tokens": 3, "completion_tokens": 1,
                                                      "finish_reason": "stop"}}
EMB = {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.5]}],
       "model": "rec-model", "usage": {"prompt_tokens": 2, "total_tokens": 2}}


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send_json({"object": "list", "data": [{"id": "rec-model", "object": "model"}]})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        with LOCK, open(sys.argv[2], "a") as f:
            f.write(json.dumps({"method": "POST", "path": self.path,
                                "headers": [[k, v] for k, v in self.headers.items()],
                                "body_hex": raw.hex()}) + "\n")
        try:
            req = json.loads(raw)
        except ValueError:
            req = {}
        if self.path.endswith("/embeddings"):
            return self.send_json(EMB)
        gen = self.path == "/generate"
        if not req.get("stream"):
            return self.send_json(GEN if gen else CHAT)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        events = [GEN] if gen else [CHUNK, CHUNK, USAGE]
        for e in events:
            self.wfile.write(b"data: " + json.dumps(e).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


loopback_http.serve(H, sys.argv[1])
