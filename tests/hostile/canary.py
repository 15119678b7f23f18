#!/usr/bin/env python3
"""canary.py PORT_FILE LOG — a loopback listener that must never be reached:
it appends one line to LOG per connection ("connect") and the bytes each
one sent (decoded as latin-1), answers 200 with a small JSON body, and
serves until killed. On 127.0.0.1, a free port written to PORT_FILE."""
import socket
import sys

port_file, log = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.getsockname()[1])
import os
os.rename(port_file + ".tmp", port_file)
while True:
    c, _ = srv.accept()
    c.settimeout(2)
    with open(log, "a") as f:
        f.write("connect\n")
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < 65536:
            b = c.recv(4096)
            if not b:
                break
            data += b
    except OSError:
        pass
    with open(log, "a") as f:
        f.write(data.decode("latin-1") + "\n")
    body = b'{"canary":true}'
    try:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n%s" % (len(body), body))
    except OSError:
        pass
    c.close()
