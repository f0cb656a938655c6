#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""UDP conversations of known sizes through NAT, for the topology tests.

udpsend only sends; a NATed path needs both directions of one flow (the
reply of a DNATed or SNATed connection is translated back by conntrack),
so this helper has two halves:

  udpflow.py echo ADDR PORT REPLY SECONDS
      bind ADDR:PORT (ADDR "::" also takes IPv4) and answer every datagram
      with one of REPLY bytes of payload, back to its sender, from the
      address it was sent to; exit after SECONDS (bounded) or on SIGTERM.
  udpflow.py ask SRC SPORT DST PORT PAYLOAD COUNT [GAP_US]
      from SRC:SPORT (SPORT 0: any) send COUNT datagrams of PAYLOAD bytes
      to DST:PORT, GAP_US microseconds apart, read the answers while
      sending and until all came or none came for one second; print the
      number of answers.

Layer-3 sizes: IPv4 PAYLOAD + 28 bytes, IPv6 PAYLOAD + 48."""
import select
import signal
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


# Linux values, for Pythons whose socket module lacks the names.
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)


def echo(addr, port, reply, seconds):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    wildcard = addr == "::"
    if wildcard:
        # One socket for both families, answering from the address each
        # datagram was sent to (IPv4 arrives as ::ffff:a.b.c.d): a host
        # with several addresses must not answer from its first one.
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    payload = b"e" * reply
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return 0
        ready, _, _ = select.select([s], [], [], min(left, 1.0))
        if not ready:
            continue
        if not wildcard:
            _, peer = s.recvfrom(65536)
            s.sendto(payload, peer)
            continue
        _, anc, _, peer = s.recvmsg(65536, socket.CMSG_SPACE(20))
        info = [d for lvl, typ, d in anc
                if lvl == socket.IPPROTO_IPV6 and typ == IPV6_PKTINFO]
        # in6_pktinfo: the address (16 bytes), then the interface index,
        # left 0 so routing picks the way out.
        cmsg = [(socket.IPPROTO_IPV6, IPV6_PKTINFO, info[0][:16] + bytes(4))] if info else []
        s.sendmsg([payload], cmsg, 0, peer)


def ask(src, sport, dst, port, size, count, gap_us):
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    s.bind((src, sport))
    s.connect((dst, port))
    s.setblocking(False)
    payload = b"x" * size
    answers = 0

    def drain():
        n = 0
        while True:
            try:
                s.recv(65536)
            except (BlockingIOError, ConnectionRefusedError):
                return n
            n += 1

    for _ in range(count):
        s.send(payload)
        answers += drain()
        if gap_us:
            time.sleep(gap_us / 1e6)
    idle_until = time.monotonic() + 1.0
    while answers < count and time.monotonic() < idle_until:
        ready, _, _ = select.select([s], [], [], idle_until - time.monotonic())
        if ready:
            got = drain()
            answers += got
            if got:
                idle_until = time.monotonic() + 1.0
    print(answers)
    return 0


def main(argv):
    if len(argv) == 6 and argv[1] == "echo":
        return echo(argv[2], int(argv[3]), int(argv[4]), float(argv[5]))
    if len(argv) in (8, 9) and argv[1] == "ask":
        gap = int(argv[8]) if len(argv) == 9 else 0
        return ask(argv[2], int(argv[3]), argv[4], int(argv[5]), int(argv[6]),
                   int(argv[7]), gap)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
