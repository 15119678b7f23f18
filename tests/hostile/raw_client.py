#!/usr/bin/env python3
"""raw_client.py MODE PORT ... — a misbehaving HTTP client on 127.0.0.1.

send PORT IN OUT: sends IN's bytes as they are, then writes whatever comes
    back (until the peer closes or is idle 2 s; 10 s at most) to OUT.
headers PORT NBYTES OUT: a GET /health whose header block is NBYTES of
    "X-Pad-N: aaa..." lines, sent 64 KB at a time until done or refused;
    then the answer to OUT as for send. Prints "sent=N".
slow PORT SECONDS INTERVAL: a request head sent one byte every INTERVAL s
    for SECONDS s (never finished); prints "connected" once the first byte
    is sent, then "closed" when the server closed the connection first,
    else "open"."""
import socket
import sys
import time


def connect(port):
    return socket.create_connection(("127.0.0.1", int(port)), timeout=10)


def read_all(s, out):
    got = b""
    end = time.monotonic() + 10
    s.settimeout(2)
    try:
        while time.monotonic() < end and len(got) < 1 << 24:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass
    with open(out, "wb") as f:
        f.write(got)


def send(port, inp, out):
    s = connect(port)
    with open(inp, "rb") as f:
        data = f.read()
    try:
        s.sendall(data)
    except OSError:
        pass
    read_all(s, out)


def headers(port, nbytes, out):
    s = connect(port)
    sent = 0
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        line = b"X-Pad-%06d: " + b"a" * 1000 + b"\r\n"
        i = 0
        while sent < nbytes:
            block = b"".join(line % (i + k) for k in range(64))
            i += 64
            s.sendall(block)
            sent += len(block)
        s.sendall(b"\r\n")
    except OSError:
        pass
    print("sent=%d" % sent)
    read_all(s, out)


def slow(port, seconds, interval):
    s = connect(port)
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10000
    end = time.monotonic() + seconds
    s.settimeout(interval)
    s.sendall(head[:1])
    print("connected", flush=True)
    i = 1
    while time.monotonic() < end and i < len(head):
        try:
            s.sendall(head[i:i + 1])
            if s.recv(65536) == b"":
                print("closed")
                return
        except socket.timeout:
            pass
        except OSError:
            print("closed")
            return
        i += 1
    print("open")


def main():
    mode, port = sys.argv[1], sys.argv[2]
    if mode == "send":
        send(port, sys.argv[3], sys.argv[4])
    elif mode == "headers":
        headers(port, int(sys.argv[3]), sys.argv[4])
    elif mode == "slow":
        slow(port, float(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
