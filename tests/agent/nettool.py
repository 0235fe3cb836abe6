"""Tiny TCP load and echo tools the kernel tests run *inside* their own network namespaces.

    nettool.py sink HOST PORT SECONDS          receive for SECONDS after the first byte; print bytes/seconds
    nettool.py send HOST PORT SECONDS MAXBYTES  send until the peer closes, SECONDS pass or MAXBYTES are out
    nettool.py echo HOST PORT SECONDS          echo whatever arrives, for at most SECONDS
    nettool.py ping HOST PORT COUNT            COUNT one-byte round trips; print the RTTs in ms
    nettool.py accept HOST PORT SECONDS        accept (and close) connections for SECONDS
    nettool.py connect HOST PORT TIMEOUT       one TCP connect; print whether it succeeded
    nettool.py udpsink HOST PORT SECONDS       count datagrams (intact, distinct) until a line on stdin, or SECONDS
    nettool.py udpsend HOST PORT COUNT SIZE    COUNT numbered datagrams of SIZE bytes, one per millisecond

Servers print "ready" once listening. Every loop is bounded in bytes and time.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import time

CHUNK = 64 * 1024


def listen(host: str, port: int, seconds: float) -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(4)
    server.settimeout(seconds)
    print("ready", flush=True)
    return server


def connect(host: str, port: int) -> socket.socket:
    deadline = time.monotonic() + 5
    while True:
        try:
            return socket.create_connection((host, port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def sink(host: str, port: int, seconds: float) -> None:
    server = listen(host, port, 15)
    conn, _ = server.accept()
    conn.settimeout(seconds + 5)
    received, first = 0, 0.0
    while True:
        data = conn.recv(CHUNK)
        if not data:
            break
        if not first:
            first = time.monotonic()
        received += len(data)
        if time.monotonic() - first >= seconds:
            break
    elapsed = time.monotonic() - first if first else 0.0
    conn.close()
    print(json.dumps({"bytes": received, "seconds": elapsed}), flush=True)


def send(host: str, port: int, seconds: float, max_bytes: int) -> None:
    conn = connect(host, port)
    conn.settimeout(seconds)
    payload = b"x" * CHUNK
    sent, start = 0, time.monotonic()
    try:
        while sent < max_bytes and time.monotonic() - start < seconds:
            conn.sendall(payload)
            sent += CHUNK
    except OSError:
        pass  # the sink closed first: expected
    conn.close()
    print(json.dumps({"bytes": sent}), flush=True)


def echo(host: str, port: int, seconds: float) -> None:
    server = listen(host, port, seconds)
    deadline = time.monotonic() + seconds
    conn, _ = server.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.settimeout(max(0.1, deadline - time.monotonic()))
    while time.monotonic() < deadline:
        data = conn.recv(64)
        if not data:
            break
        conn.sendall(data)


def ping(host: str, port: int, count: int) -> None:
    conn = connect(host, port)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    for _ in range(count):
        start = time.perf_counter()
        conn.sendall(b"p")
        if conn.recv(1) != b"p":
            break
        rtts.append((time.perf_counter() - start) * 1000)
    conn.close()
    print(json.dumps({"rtt_ms": rtts}), flush=True)


def accept(host: str, port: int, seconds: float) -> None:
    server = listen(host, port, seconds)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        server.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            conn, _ = server.accept()
        except OSError:
            break
        conn.close()


def try_connect(host: str, port: int, timeout: float) -> None:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        ok = True
    except OSError:
        ok = False
    print(json.dumps({"ok": ok}), flush=True)


def payload(seq: int, size: int) -> bytes:
    head = seq.to_bytes(8, "big")
    return head + bytes((seq + i) % 251 for i in range(size - 8))


def udpsink(host: str, port: int, seconds: float) -> None:
    """Count until a line on stdin says the senders are done (or SECONDS pass), then take what is already queued.
    Never "until silence": a starved guest can pause a live flow for longer than any silence threshold."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # as root, past net.core.rmem_max: a slow receiver (a VM under emulation) must not add loss of its own
        sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((host, port))
    print("ready", flush=True)
    counts = {"received": 0, "intact": 0}
    seen: set[int] = set()

    def take(data: bytes) -> None:
        counts["received"] += 1
        seq = int.from_bytes(data[:8], "big")
        if len(data) > 8 and data == payload(seq, len(data)):
            counts["intact"] += 1
            seen.add(seq)

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock, sys.stdin], [], [], max(0.0, deadline - time.monotonic()))
        if sys.stdin in ready:
            break
        if sock in ready:
            take(sock.recv(65536))
    sock.setblocking(False)
    while True:  # everything the kernel already delivered
        try:
            take(sock.recv(65536))
        except BlockingIOError:
            break
    print(json.dumps({**counts, "distinct": len(seen)}), flush=True)


def udpsend(host: str, port: int, count: int, size: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for seq in range(count):
        sock.sendto(payload(seq, size), (host, port))
        time.sleep(0.001)  # paced, and never a catch-up burst after a stall: no queue on the way overflows
    print(json.dumps({"sent": count}), flush=True)


def main(argv: list[str]) -> None:
    mode, host, port = argv[0], argv[1], int(argv[2])
    if mode == "sink":
        sink(host, port, float(argv[3]))
    elif mode == "send":
        send(host, port, float(argv[3]), int(argv[4]))
    elif mode == "echo":
        echo(host, port, float(argv[3]))
    elif mode == "ping":
        ping(host, port, int(argv[3]))
    elif mode == "accept":
        accept(host, port, float(argv[3]))
    elif mode == "connect":
        try_connect(host, port, float(argv[3]))
    elif mode == "udpsink":
        udpsink(host, port, float(argv[3]))
    elif mode == "udpsend":
        udpsend(host, port, int(argv[3]), int(argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1:])
