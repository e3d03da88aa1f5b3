"""What authentication costs a handshake: an open route beside JWT and API-key routes, on the real
server over loopback.

Run: ``python bench/bench_auth.py`` (about 30 s), ``--seconds 1`` for a quick look, ``--loop asyncio``
to serve on stock asyncio instead of uvloop.

The server runs in a child process pinned to CPU 0 and the client in this process pinned to CPU 1
(when the machine has two). The client is a raw-socket one: CONCURRENCY asyncio tasks each open a
TCP connection, write a complete upgrade request, read up to the end of the response head, check
the status line, and close; then start over. Every route's handler accepts and waits for the next
message, which never comes: the client's close ends it, so the teardown is the same for all rows.

Two figures per row:

- handshakes/s: completed handshakes divided by wall time. Client and server share two vCPUs, so
  this is a ceiling set by whichever side is slower (often the Python client).
- server us/handshake: the server process's CPU time (user + system, read through a plain HTTP
  route on the same server before and after the cell) divided by the handshakes it served: the
  cost that matters, and the figure to compare between rows.

Rows: ``open`` (no auth); ``jwt HS256 ?token=`` (the seed's route: JWTAuthentication() and
IsAuthenticated()); the same token in ``Authorization: Bearer``; ``jwt RS256`` and ``jwt ES256``
(public-key verification); ``api key`` (X-API-Key, 10 keys configured, each compared); and two
refusals, ``jwt expired -> 401`` and ``no token -> 401``, which answer with HTTP and never upgrade.
Cells take turns within each of REPEATS rounds and the best round is kept, so drift on the shared
machine hits all rows alike.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import jwt  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

from bolt import BoltAPI, WebSocket  # noqa: E402
from bolt.auth import APIKeyAuthentication, IsAuthenticated, JWTAuthentication  # noqa: E402
from bolt.transport.run import new_event_loop  # noqa: E402
from bolt.transport.server import Server  # noqa: E402

HOST = "127.0.0.1"
SECRET = "bench-secret-long-enough-for-hs256-0123456789abcdef"
CONCURRENCY = 16
REPEATS = 3
API_KEYS = [f"bench-api-key-{n:02d}-{'x' * 24}" for n in range(10)]


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {cpu})


# The server (child process).


async def handler(websocket: WebSocket):
    await websocket.accept()
    await websocket.receive()


def serve(port: int, loop_kind: str, rsa_pem: bytes, ec_pem: bytes) -> None:
    pin(0)
    os.environ["BOLT_JWT_SECRET"] = SECRET
    api = BoltAPI(ping_interval=None, ping_timeout=None)
    api.websocket("/open")(handler)
    api.websocket("/jwt", auth=[JWTAuthentication()], guards=[IsAuthenticated()])(handler)
    rs = JWTAuthentication(algorithms=["RS256"], public_key=rsa_pem)
    api.websocket("/jwt-rs256", auth=[rs], guards=[IsAuthenticated()])(handler)
    es = JWTAuthentication(algorithms=["ES256"], public_key=ec_pem)
    api.websocket("/jwt-es256", auth=[es], guards=[IsAuthenticated()])(handler)
    api.websocket("/key", auth=[APIKeyAuthentication(API_KEYS)], guards=[IsAuthenticated()])(handler)

    @api.get("/cpu")
    async def cpu():
        return {"cpu": time.process_time()}

    loop = new_event_loop(loop_kind)

    async def main():
        server = Server(api, api.settings)
        await server.start(HOST, port, backlog=4096)
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
        await server.shutdown(timeout=1)

    loop.run_until_complete(main())


# The client.


def request(path: str, headers: list[tuple[str, str]], port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def handshake(port: int, data: bytes, expect: bytes) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(expect):
        raise RuntimeError(f"expected {expect!r}, got {head[:40]!r}")
    writer.transport.abort()  # RST, not a lingering FIN: the same cheap teardown for every row


async def server_cpu(port: int) -> float:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(f"GET /cpu HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
    body = (await reader.read()).partition(b"\r\n\r\n")[2]
    writer.close()
    return float(body.split(b":")[1].strip(b" }"))


async def cell(port: int, data: bytes, expect: bytes, seconds: float) -> tuple[float, float]:
    """(handshakes per second, server microseconds of CPU per handshake)"""
    count = 0
    deadline = time.perf_counter() + seconds

    async def worker():
        nonlocal count
        while time.perf_counter() < deadline:
            await handshake(port, data, expect)
            count += 1

    cpu_before = await server_cpu(port)
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - start
    await asyncio.sleep(0.2)  # let the server finish tearing down the last connections
    cpu_after = await server_cpu(port)
    return count / elapsed, (cpu_after - cpu_before) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per cell and round")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        serve(args.port, args.loop, Path(os.environ["BENCH_RSA"]).read_bytes(), Path(os.environ["BENCH_EC"]).read_bytes())
        return

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pems = {}
    for name, key in (("BENCH_RSA", rsa_key), ("BENCH_EC", ec_key)):
        path = Path(f"/tmp/bench_auth_{name.lower()}_{os.getpid()}.pem")
        path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        pems[name] = str(path)
    # The server verifies with the public keys; the client signs with the private ones, created here
    # and handed over as files.
    exp = int(time.time()) + 3600
    claims = {"sub": "42", "exp": exp}
    hs = jwt.encode(claims, SECRET, algorithm="HS256")
    rows = [
        ("open", "/open", [], b"HTTP/1.1 101"),
        ("jwt HS256 ?token=", f"/jwt?token={hs}", [], b"HTTP/1.1 101"),
        ("jwt HS256 Authorization", "/jwt", [("Authorization", f"Bearer {hs}")], b"HTTP/1.1 101"),
        ("jwt RS256", f"/jwt-rs256?token={jwt.encode(claims, rsa_key, algorithm='RS256')}", [], b"HTTP/1.1 101"),
        ("jwt ES256", f"/jwt-es256?token={jwt.encode(claims, ec_key, algorithm='ES256')}", [], b"HTTP/1.1 101"),
        ("api key (10 keys)", "/key", [("X-API-Key", API_KEYS[-1])], b"HTTP/1.1 101"),
        ("jwt expired -> 401", f"/jwt?token={jwt.encode({'sub': '42', 'exp': 1}, SECRET, algorithm='HS256')}", [], b"HTTP/1.1 401"),
        ("no token -> 401", "/jwt", [], b"HTTP/1.1 401"),
    ]

    env = {**os.environ, **pems}
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--port", str(args.port), "--loop", args.loop],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
    )
    try:
        if server.stdout.readline().strip() != b"READY":
            raise SystemExit("the server did not start")
        pin(1)
        best: dict[str, tuple[float, float]] = {}

        async def run_all():
            for name, path, headers, expect in rows:  # warm up, and check every row answers as expected
                await cell(args.port, request(path, headers, args.port), expect, 0.3)
            for _ in range(REPEATS):
                for name, path, headers, expect in rows:
                    rate, cpu = await cell(args.port, request(path, headers, args.port), expect, args.seconds)
                    if name not in best or cpu < best[name][1]:
                        best[name] = (rate, cpu)

        asyncio.run(run_all())
    finally:
        server.stdin.close()
        server.wait(10)
        for path in pems.values():
            os.unlink(path)

    open_cpu = best["open"][1]
    print(f"\nserver loop: {args.loop}, {CONCURRENCY} concurrent clients, best of {REPEATS} x {args.seconds:g} s\n")
    print(f"| {'route':<26} | {'handshakes/s':>12} | {'server us/handshake':>19} | {'vs open':>8} |")
    print(f"|{'-' * 28}|{'-' * 13}:|{'-' * 20}:|{'-' * 9}:|")
    for name, *_ in rows:
        rate, cpu = best[name]
        print(f"| {name:<26} | {rate:>12,.0f} | {cpu:>19.1f} | {cpu - open_cpu:>+8.1f} |")


if __name__ == "__main__":
    main()
