#!/usr/bin/env python3
"""Holds COUNT idle keep-alive connections to the service (bench/run.sh, idle mode).

usage: idle_holder.py HOST PORT COUNT IDS_FILE

Each connection makes one real request (GET …/users/{id}/exists, so the service has set up a
full session for it) and then stays open without sending anything. Prints "ready N" once all
are open, holds them until SIGTERM or SIGINT, then prints one JSON line
{"opened": N, "open_at_end": M}: M < N means the service closed some (idle timeout, limits).
"""
import ctypes
import json
import os
import random
import resource
import select
import signal
import socket
import sys


def read_response(sock):
    """Reads one HTTP/1.1 response with a Content-Length body; returns the status code."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response headers")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(max(4096, length - len(body)))
        if not chunk:
            raise ConnectionError("closed before the response body")
        body += chunk
    return status


def main():
    host, port, count, ids_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 64
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            sys.exit(f"idle_holder: need {want} file descriptors, hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    with open(ids_file) as f:
        ids = [line.split()[0] for line in f if line.strip()]
    # Block the stop signals now, so that one arriving while connecting is not lost, and get
    # SIGTERM when the driver dies, so that no orphan keeps thousands of connections open.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:
        sys.exit("idle_holder: parent already gone")

    socks = []
    for _ in range(count):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(
            f"GET /api/v1/internal/users/{random.choice(ids)}/exists HTTP/1.1\r\n"
            "Host: bench\r\n\r\n".encode())
        status = read_response(s)
        if status != 200:
            sys.exit(f"idle_holder: warm-up request answered {status}")
        socks.append(s)
    print(f"ready {len(socks)}", flush=True)

    signal.sigwait({signal.SIGTERM, signal.SIGINT})

    # A connection the service closed is readable and reads EOF (or fails with a reset).
    poller = select.poll()
    for s in socks:
        poller.register(s.fileno(), select.POLLIN)
    closed = set()
    for fd, _ in poller.poll(0):
        sock = socket.socket(fileno=fd)
        try:
            if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                closed.add(fd)
        except OSError:
            closed.add(fd)
        finally:
            sock.detach()
    print(json.dumps({"opened": len(socks), "open_at_end": len(socks) - len(closed)}), flush=True)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
