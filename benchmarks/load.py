"""Load benchmark of the HTTP API: throughput and latency with 1, 8 and 32 concurrent clients.

    python benchmarks/load.py --presets fast,accurate --clients 1,8,32 --workers 1,2

For each preset and worker count it starts ``tersify serve --workers N`` (with ``--ray``:
``tersify serve --ray --replicas N``, Ray Serve on a local Ray instance) (uvicorn, SQLite in
a temporary folder, a key with a limit high enough never to bite) and sends the same 20-document
request (question 0 of ../shared/eval/nq20.jsonl, about 2,400 cl100k tokens, ratio 0.25) to the
Compresso endpoint ``POST /v1/prompt-compress`` from ``c`` concurrent clients, each sending its
requests back to back, ``--requests`` requests per client level in all (at least 4 a client).
Numbers: requests per second over the level's wall time (beside the engine's own rate in
one process, so the server's overhead is a ratio; with N workers the engine's ceiling is N
times that rate, cores allowing), p50 / p99 latency of one request as the
client sees it (HTTP included), and errors (any status but 200, counted by status). The table
goes to stdout and to ``benchmarks/results/load.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import machine, write_table_page  # noqa: E402


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--presets", default="fast,accurate")
    p.add_argument("--clients", default="1,8,32")
    p.add_argument("--workers", default="1", help="worker counts, comma-separated")
    p.add_argument("--ray", action="store_true",
                   help="Ray Serve replicas (serve --ray --replicas N) in place of workers")
    p.add_argument("--requests", type=int, default=64, help="requests per client level")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "eval" / "nq20.jsonl"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "load.md"))
    return p.parse_args(argv)


def example(path: str) -> dict[str, object]:
    with open(path, encoding="utf-8") as fh:
        first = json.loads(fh.readline())
    return {"context": [f"{c['title']}\n{c['text']}" for c in first["contexts"]],
            "question": first["question"], "target_ratio": 0.25}


class Server:
    """``tersify serve`` in a subprocess with its own database and one key per name in
    ``keys`` (``keys[name]`` is its id and secret), ``env`` added to its environment; its
    log in ``log``."""

    def __init__(self, preset: str, env: Mapping[str, str] | None = None,
                 names: Sequence[str] = ("load",), workers: int = 1,
                 ray: bool = False) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="tersify-load-")
        self.url_db = f"sqlite:///{self.folder.name}/keys.db"
        self.log = Path(self.folder.name) / "err.txt"
        self.port = _free_port()
        cli = [sys.executable, "-m", "tersify.integrations.cli"]
        self.keys: dict[str, tuple[str, str]] = {}
        for name in names:
            out = subprocess.run([*cli, "keys", "--database-url", self.url_db, "create", name,
                                  "--rate-limit", "1000000"], capture_output=True, text=True,
                                 check=True).stdout
            self.keys[name] = (out.split("id: ")[1].split()[0],
                               out.split("secret: ")[1].split()[0])
        self.key = self.keys[names[0]][1]
        scale = ["--ray", "--replicas", str(workers)] if ray else ["--workers", str(workers)]
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [*cli, "serve", "--port", str(self.port), "--database-url", self.url_db,
                 *scale],
                env={**os.environ, "TERSIFY_PRESET": preset, **(env or {})},
                stdout=subprocess.DEVNULL, stderr=log)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.folder.cleanup()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def level(server: Server, body: dict[str, object], clients: int,
                total: int) -> dict[str, Any]:
    """Run ``total`` requests from ``clients`` concurrent clients; the level's numbers."""
    each = max(4, math.ceil(total / clients))
    latencies: list[float] = []
    errors: Counter[int] = Counter()

    async def client(http: httpx.AsyncClient) -> None:
        for _ in range(each):
            started = time.perf_counter()
            response = await http.post(server.url + "/v1/prompt-compress", json=body,
                                       headers={"X-API-Key": server.key})
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                errors[response.status_code] += 1

    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(timeout=600, limits=limits) as http:
        await http.post(server.url + "/v1/prompt-compress", json=body,
                        headers={"X-API-Key": server.key})  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"requests": len(latencies), "rps": len(latencies) / wall,
            "p50": statistics.median(ordered),
            "p99": ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)], "errors": errors}


def _errors(by_status: Counter[int]) -> str:
    return ", ".join(f"{n} ({status})" for status, n in sorted(by_status.items())) or "0"


def engine_rate(preset: str, body: dict[str, Any], seconds: float = 10) -> float:
    """Requests per second of the engine called in this process, one request after another
    (no score cache: every call scores), for ``seconds`` after one warm-up call."""
    import tersify

    compressor = tersify.Compressor(preset=preset)
    fields = {"contexts": body["context"], "question": body["question"],
              "target_ratio": body["target_ratio"]}
    compressor.compress(**fields)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        compressor.compress(**fields)
        done += 1
    return done / (time.perf_counter() - started)


def server_rss_mb(pid: int) -> float:
    """Resident memory of the serving process and its descendants (workers, engines)."""
    total = 0
    for each in _tree(pid):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines()
                       if line.startswith("VmRSS:")), 0)
    return total / 1024


def _tree(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [pid, *(p for child in found.stdout.split() for p in _tree(int(child)))]


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    body = example(args.data)
    machine_line = machine()
    rows = ["| preset | workers | clients | requests | req/s | p50 ms | p99 ms | errors "
            "| engine req/s | HTTP / engine | server RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for preset in args.presets.split(","):
        engine = engine_rate(preset, body)  # before the server starts: it has the cores alone
        for workers in (int(w) for w in args.workers.split(",")):
            server = Server(preset, workers=workers, ray=args.ray)
            try:
                for clients in (int(c) for c in args.clients.split(",")):
                    r = asyncio.run(level(server, body, clients, args.requests))
                    rows.append(
                        f"| {preset} | {workers} | {clients} | {r['requests']:.0f} | "
                        f"{r['rps']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} | "
                        f"{_errors(r['errors'])} | {engine:.1f} | {r['rps'] / engine:.2f} | "
                        f"{server_rss_mb(server.process.pid):.0f} |")
                    print(rows[-1], flush=True)
            finally:
                server.stop()
    write_table_page(
        args.out, "tersify load benchmark", machine_line,
        "nq20 question 0 (20 documents, ~2,400 cl100k tokens), target_ratio 0.25, "
        "POST /v1/prompt-compress; " + ("`tersify serve --ray --replicas N` (N Ray Serve "
        "replicas behind Serve's proxy, each with the engine in its own process; RSS counts "
        "Ray's own processes too)" if args.ray else "`tersify serve --workers N` (N uvicorn "
        "processes, each with the engine in one worker process of its own)") + ", SQLite. "
        "engine req/s: the same "
        "request compressed in the benchmark's own process, one after another, before the "
        "server starts; server RSS: the serving processes and their engines after the level",
        rows)


if __name__ == "__main__":
    main()
