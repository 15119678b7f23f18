"""loopback_http.py - how the HTTP stand-ins of the tests start: a threading
server on 127.0.0.1 at a free port, the port written to PORT_FILE at once
and whole (a temporary file renamed, so a test waiting for the file never
reads half of it), then served until the process is stopped."""
import http.server
import os
import socketserver


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def serve(handler, port_file):
    srv = Server(("127.0.0.1", 0), handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()
