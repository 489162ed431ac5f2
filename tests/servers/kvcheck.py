#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/servers/kvcheck.py redis|memcached PORT load|verify: write a known
# data set into a server on 127.0.0.1:PORT (load) or check that it is all
# still there, byte for byte (verify).  Values of several sizes (1 B .. 512
# KiB, across nalloc's small/large boundary) derived from the key, so that
# verify needs no state.  Redis also gets lists (LPUSH, then LPOP of a known
# share at verify).  Standard library only (raw RESP / memcached text
# protocol).  Exit 0: all good; 1: a mismatch, printed.  see src/malloc.c
import hashlib
import socket
import sys

kind, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
NKEYS, NLISTS, LISTLEN = 1500, 20, 300
SIZES = [1, 7, 16, 100, 1000, 4000, 16384, 32768, 32769, 70000, 200000, 524288]


def value(i):
    n = SIZES[i % len(SIZES)] if i % 3 else SIZES[i % 5]
    seed = hashlib.sha256(b"nalloc-%d" % i).digest()
    return (seed * (n // len(seed) + 1))[:n]


class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("server closed the connection")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d

    # RESP
    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.send(out)
        return self.reply()

    def reply(self):
        ln = self.line()
        t, rest = ln[:1], ln[1:]
        if t in (b"+", b":"):
            return int(rest) if t == b":" else rest
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n)
        if t == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError("bad reply %r" % ln)


bad = 0


def mismatch(what):
    global bad
    bad += 1
    if bad <= 10:
        print("kvcheck: MISMATCH:", what)


c = Conn()
if kind == "redis":
    if mode == "load":
        for i in range(NKEYS):
            c.cmd("SET", "nalloc:k%d" % i, value(i))
        for l in range(NLISTS):
            for j in range(LISTLEN):
                c.cmd("LPUSH", "nalloc:l%d" % l, value(l * 1000 + j)[:2000])
    else:
        for i in range(NKEYS):
            v = c.cmd("GET", "nalloc:k%d" % i)
            if v != value(i):
                mismatch("GET nalloc:k%d: %s bytes, want %d" % (i, None if v is None else len(v), len(value(i))))
        for l in range(NLISTS):
            n = c.cmd("LLEN", "nalloc:l%d" % l)
            if n != LISTLEN:
                mismatch("LLEN nalloc:l%d = %s, want %d" % (l, n, LISTLEN))
            for j in range(LISTLEN - 1, LISTLEN - 51, -1):  # LPOP: newest first
                v = c.cmd("LPOP", "nalloc:l%d" % l)
                if v != value(l * 1000 + j)[:2000]:
                    mismatch("LPOP nalloc:l%d #%d" % (l, j))
else:
    if mode == "load":
        for i in range(NKEYS):
            v = value(i)
            c.send(b"set nalloc:k%d 0 0 %d\r\n%s\r\n" % (i, len(v), v))
            r = c.line()
            if r != b"STORED":
                mismatch("set nalloc:k%d: %r" % (i, r))
    else:
        for i in range(NKEYS):
            c.send(b"get nalloc:k%d\r\n" % i)
            r = c.line()
            if r == b"END":
                mismatch("get nalloc:k%d: missing" % i)
                continue
            n = int(r.split()[3])
            v = c.exact(n)
            if c.line() != b"END" or v != value(i):
                mismatch("get nalloc:k%d: %d bytes differ" % (i, n))
print("kvcheck: %s %s: %d keys%s, %d mismatches" % (kind, mode, NKEYS, " and %d lists" % NLISTS if kind == "redis" else "", bad))
sys.exit(1 if bad else 0)
