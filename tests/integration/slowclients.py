#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Clients that hold connections to an HTTP listener, for metrics.sh.

  slowclients.py flood SRC HOST PORT COUNT SECONDS
      open up to COUNT connections from SRC (as many as the descriptor
      limit allows), send the start of a request and then one more header
      byte per second on each, for SECONDS; print one JSON line: opened,
      connected, held (the most open at once after the first 2 s),
      open_at_end, last_close (seconds after start of the last close by
      the server).
  slowclients.py idle SRC HOST PORT SECONDS
      connect from SRC, send nothing, print how many seconds until the
      server closed it (or -1 if still open after SECONDS).
Loopback addresses only; every loop is bounded by SECONDS."""
import errno
import json
import resource
import select
import socket
import sys
import time

PREFIX = b"GET /metrics HTTP/1.1\r\nHost: nftally\r\nX-Slow: "


def connect(src, host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((src, 0))
    err = s.connect_ex((host, port))
    if err not in (0, errno.EINPROGRESS):
        s.close()
        return None
    return s


def flood(src, host, port, count, seconds):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = {}
    for _ in range(count):
        try:
            s = connect(src, host, port)
        except OSError:
            break  # descriptors used up: as many as fit
        if s is None:
            break
        socks[s.fileno()] = [s, False]  # [socket, request prefix sent]
    opened = len(socks)
    connected = 0
    held = 0
    last_close = 0.0
    p = select.poll()
    for fd in socks:
        p.register(fd, select.POLLIN | select.POLLOUT)
    t0 = time.monotonic()
    next_byte = t0 + 1
    while time.monotonic() - t0 < seconds:
        for fd, ev in p.poll(200):
            s, sent = socks[fd]
            closed = False
            if ev & select.POLLOUT and not sent:
                try:
                    s.send(PREFIX)
                    socks[fd][1] = True
                    connected += 1
                    p.modify(fd, select.POLLIN)
                except OSError:
                    closed = True
            if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    closed = closed or s.recv(4096) == b""
                except BlockingIOError:
                    pass
                except OSError:
                    closed = True
            if closed:
                p.unregister(fd)
                s.close()
                del socks[fd]
                last_close = time.monotonic() - t0
        now = time.monotonic()
        if now >= next_byte:
            next_byte = now + 1
            for fd, (s, sent) in list(socks.items()):
                if sent:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass  # the close shows up in poll
            if now - t0 >= 2:
                held = max(held, sum(1 for v in socks.values() if v[1]))
    print(json.dumps({"opened": opened, "connected": connected, "held": held,
                      "open_at_end": len(socks), "last_close": round(last_close, 1)}))


def idle(src, host, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(seconds)
    s.connect((host, port))
    t0 = time.monotonic()
    try:
        while s.recv(4096):
            pass
        print(round(time.monotonic() - t0, 1))
    except socket.timeout:
        print(-1)
    except OSError:
        print(round(time.monotonic() - t0, 1))


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "flood":
        flood(a[2], a[3], int(a[4]), int(a[5]), float(a[6]))
    else:
        idle(a[2], a[3], int(a[4]), float(a[5]))
