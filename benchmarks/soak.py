"""Soak benchmark of the HTTP API under faults: 50 clients for 60 s against ``fast``.

    python benchmarks/soak.py --clients 50 --seconds 60

Starts ``tersify serve`` (preset ``fast``, SQLite in a temporary folder, a real Redis for the
rate limits, the engine in its worker process) with three keys, and runs for ``--seconds``:

- ``--clients`` steady clients send question 0 of ../shared/eval/nq20.jsonl (20 documents,
  ratio 0.25) to Compresso's ``POST /v1/prompt-compress`` back to back;
- faults strike on a fixed timeline (fractions of the run): Redis stopped at 10% and started
  at 20%, frozen (SIGSTOP) at 30% and thawed at 37%, the SQLite file write-locked by another
  connection from 50% to 57%, and from 65% to 80% five impatient clients that hang up after
  50 ms (their own key);
- throughout, a hostile client (its own key) cycles through bodies that once froze, crashed or
  mis-billed the server: a backtracking pattern, 10,000 contexts, 900-deep metadata, a lone
  surrogate in an id, an oversized batch, invalid UTF-8, a body over the size limit, and the
  largest request allowed (1,000 contexts);
- ``/healthz`` is polled ten times a second with a 1 s timeout;
- at the end the server gets SIGTERM and must exit within its shutdown timeout (5 s).

Reported, with those that must be 0 marked: 5xx answers other than an honest 503 (JSON shape
and Retry-After, while a back end is out or the server is full), error answers outside the JSON
shape, tracebacks in the server's log, failed or slow ``/healthz`` polls, and per key the
requests lost (served but not billed) or double-billed (billed beyond those served); also the
p50 / p99 latency of the steady clients' served requests. The table goes to stdout and to
``benchmarks/results/soak.md``; the exit status is 1 when a must-be-0 figure is not.
"""

from __future__ import annotations

import argparse
import math
import secrets
import signal
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from load import Server, example  # noqa: E402
from loadgen import HealthWatch, Load, error_shape  # noqa: E402
from report import machine, write_table_page  # noqa: E402
from services import RedisProcess  # noqa: E402

SHUTDOWN_S = 5
HONEST = {503}  # refused with Retry-After while a back end is out or the server is full


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--data", default=str(HERE.parent.parent / "shared" / "eval" / "nq20.jsonl"))
    p.add_argument("--out", default=str(HERE / "results" / "soak.md"))
    return p.parse_args(argv)


def _raw_native(fields: str) -> bytes:
    return ('{"contexts": [{"text": "The tram opened in 1911.", ' + fields
            + '}], "question": "tram"}').encode()


def hostile_bodies() -> list[tuple[str, bytes, set[int]]]:
    """(name, raw body for POST /v1/tersify, the statuses that answer it rightly)."""
    import json

    one = {"contexts": ["x"] * 1_000, "question": "x", "target_ratio": 0.5}
    return [
        ("backtracking pattern", json.dumps({"contexts": ["a" * 40 + "!"], "question": "q",
                                             "force_keep_patterns": ["(a+)+$"]}).encode(), {200}),
        ("10,000 contexts", json.dumps({**one, "contexts": ["x"] * 10_000}).encode(), {400}),
        ("900-deep metadata", _raw_native('"metadata": ' + '{"a": ' * 900 + "1" + "}" * 900),
         {400}),
        ("lone surrogate id", _raw_native(r'"id": "doc-\ud800"'), {400}),
        ("batch of 11,000 contexts", json.dumps({"requests": [one] * 11}).encode(), {400}),
        ("invalid UTF-8", b'{"contexts": ["\xff\xfe"], "question": "q"}', {400}),
        ("body over the limit", b'{"contexts": ["' + b"x" * 3_000_000 + b'"]}', {413}),
        ("1,000 contexts (allowed)", json.dumps(one).encode(), {200}),
    ]


class Hostile(threading.Thread):
    """Sends the hostile bodies in turn, one every 0.2 s, until stopped; counts answers."""

    def __init__(self, url: str, secret: str) -> None:
        super().__init__(daemon=True)
        self.url, self.secret, self.stopping = url, secret, threading.Event()
        self.answers: Counter[tuple[str, int | str]] = Counter()
        self.wrong: list[str] = []

    def run(self) -> None:
        bodies = hostile_bodies()
        with httpx.Client(timeout=60) as client:
            for turn in range(10**9):
                if self.stopping.wait(0.2):
                    return
                name, body, right = bodies[turn % len(bodies)]
                try:
                    r = client.post(self.url + "/v1/tersify", content=body, headers={
                        "X-API-Key": self.secret, "Content-Type": "application/json"})
                except httpx.HTTPError as exc:
                    self.answers[name, type(exc).__name__] += 1
                    self.wrong.append(f"{name}: {type(exc).__name__}")
                    continue
                self.answers[name, r.status_code] += 1
                honest = r.status_code in HONEST and error_shape(r)
                if r.status_code not in right and not honest:
                    self.wrong.append(f"{name}: {r.status_code} {r.text[:120]}")

    def served(self) -> int:
        return sum(n for (_, status), n in self.answers.items() if status == 200)


def timeline(redis: RedisProcess, database: Path) -> list[tuple[float, str, Callable[[], None]]]:
    """(fraction of the run, what, action): the faults in order."""
    holder: list[sqlite3.Connection] = []

    def lock() -> None:
        holder.append(sqlite3.connect(database, timeout=30, isolation_level=None))
        holder[0].execute("BEGIN EXCLUSIVE")

    def unlock() -> None:
        holder[0].execute("ROLLBACK")
        holder.pop().close()

    return [(0.10, "Redis stopped", redis.stop), (0.20, "Redis started", redis.start),
            (0.30, "Redis frozen", redis.freeze), (0.37, "Redis thawed", redis.thaw),
            (0.50, "SQLite write-locked", lock), (0.57, "SQLite unlocked", unlock)]


def billed(server: Server, name: str, admin: str) -> int:
    key_id = server.keys[name][0]
    r = httpx.get(f"{server.url}/api/keys/{key_id}/usage", timeout=30,
                  headers={"Authorization": f"Bearer {admin}"})
    r.raise_for_status()
    return int(r.json()["requests"])


def soak(args: argparse.Namespace, redis: RedisProcess, admin: str) -> list[tuple[str, str, bool]]:
    """Run the soak; (measure, value, must it be 0 and is not) rows."""
    env = {"TERSIFY_REDIS_URL": redis.url, "TERSIFY_ADMIN_TOKEN": admin,
           "TERSIFY_SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_S)}
    server = Server("fast", env, names=("steady", "impatient", "hostile"))
    steady_body, url = example(args.data), server.url
    try:
        with HealthWatch(url) as health, \
                Load(url, server.keys["steady"][1], clients=args.clients, timeout=60,
                     path="/v1/prompt-compress", body=steady_body) as steady:
            hostile = Hostile(url, server.keys["hostile"][1])
            hostile.start()
            impatient = _run_timeline(args.seconds, redis, server, steady_body)
            hostile.stopping.set()
            hostile.join(timeout=120)
        time.sleep(2)  # requests whose clients hung up end in the server, unbilled
        served = {"steady": steady.count(200), "impatient": impatient.count(200),
                  "hostile": hostile.served()}
        bills = {name: billed(server, name, admin) for name in served}
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=SHUTDOWN_S + 30)
        exit_s = time.monotonic() - started
        log = server.log.read_text()
    finally:
        if server.process.poll() is None:
            server.process.kill()
        server.folder.cleanup()
    return _rows(args, steady, impatient, hostile, health, served, bills, exit_s, log)


def _run_timeline(seconds: float, redis: RedisProcess, server: Server,
                  body: dict[str, object]) -> Load:
    """Strike each fault in turn; the impatient clients' load (run from 65% to 80%)."""
    started = time.monotonic()
    events = timeline(redis, Path(server.url_db.removeprefix("sqlite:///")))
    impatient = Load(server.url, server.keys["impatient"][1], clients=5, timeout=0.05,
                     path="/v1/prompt-compress", body=body)
    events += [(0.65, "impatient clients start", impatient.__enter__),
               (0.80, "impatient clients stop", lambda: impatient.__exit__(None, None, None))]
    for at, what, action in sorted(events, key=lambda e: e[0]):
        time.sleep(max(0.0, started + at * seconds - time.monotonic()))
        print(f"{time.monotonic() - started:6.1f} s  {what}", flush=True)
        action()
    time.sleep(max(0.0, started + seconds - time.monotonic()))
    return impatient


def _rows(args: argparse.Namespace, steady: Load, impatient: Load, hostile: Hostile,
          health: HealthWatch, served: dict[str, int], bills: dict[str, int], exit_s: float,
          log: str) -> list[tuple[str, str, bool]]:
    outcomes = Counter(steady.outcomes)
    unexplained = [o for load in (steady, impatient) for o in load.outcomes
                   if isinstance(o, int) and o >= 500 and o not in HONEST]
    unexplained += [w for w in hostile.wrong if " 5" in w]
    ordered = sorted(steady.latencies_ms)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] if ordered else float("nan")
    lost = {n: max(0, served[n] - bills[n]) for n in served}
    double = {n: max(0, bills[n] - served[n]) for n in served}
    hung_up = sum(isinstance(o, str) for o in impatient.outcomes)
    return [
        ("steady clients, seconds", f"{args.clients}, {args.seconds:.0f}", False),
        ("steady requests: served / honest 503 / client errors",
         f"{outcomes[200]} / {outcomes[503]} / {sum(isinstance(o, str) for o in outcomes)}",
         False),
        ("steady served req/s", f"{outcomes[200] / args.seconds:.1f}", False),
        ("steady served p50 / p99 ms", f"{statistics.median(ordered):.1f} / {p99:.1f}"
         if ordered else "none", False),
        ("impatient requests: served / hung up", f"{impatient.count(200)} / {hung_up}", False),
        ("hostile bodies sent / answered rightly",
         f"{sum(hostile.answers.values())} / {sum(hostile.answers.values()) - len(hostile.wrong)}",
         False),
        ("hostile bodies answered wrongly (must be 0)", str(len(hostile.wrong)),
         bool(hostile.wrong)),
        ("5xx other than an honest 503 (must be 0)", str(len(unexplained)), bool(unexplained)),
        ("error answers outside the JSON shape (must be 0)",
         str(len(steady.off_shape) + len(impatient.off_shape)),
         bool(steady.off_shape or impatient.off_shape)),
        ("tracebacks in the server log (must be 0)", str(log.count("Traceback")),
         "Traceback" in log),
        ("/healthz polls / failed or over 1 s (must be 0) / slowest ms",
         f"{health.polls} / {len(health.failures)} / {health.slowest_ms:.0f}",
         bool(health.failures)),
        ("served (steady, impatient, hostile)", _three(served), False),
        ("billed (steady, impatient, hostile)", _three(bills), False),
        ("lost: served, not billed (must be 0)", _three(lost), any(lost.values())),
        ("double-billed: billed beyond served (must be 0)", _three(double),
         any(double.values())),
        (f"SIGTERM to exit, s (shutdown timeout {SHUTDOWN_S} s)", f"{exit_s:.1f}",
         exit_s > SHUTDOWN_S + 1),
    ]


def _three(counts: dict[str, int]) -> str:
    return ", ".join(str(counts[n]) for n in ("steady", "impatient", "hostile"))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine_line = machine()
    admin = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="tersify-soak-") as folder:
        redis = RedisProcess(Path(folder))
        redis.start()
        try:
            rows = soak(args, redis, admin)
        finally:
            if redis.process is not None:
                redis.thaw()  # a frozen Redis would not obey the stop
                redis.stop()
    table = ["| measure | value |", "|---|---|"]
    table += [f"| {what} | {value}{' **FAILED**' if failed else ''} |"
              for what, value, failed in rows]
    print("\n".join(table))
    write_table_page(
        args.out, "tersify soak benchmark", machine_line,
        f"{args.clients} clients posting nq20 question 0 (20 documents, ratio 0.25) to "
        "POST /v1/prompt-compress for the run, with the faults and hostile bodies listed in "
        "benchmarks/soak.py; preset fast, one uvicorn process, the engine in one worker "
        "process, SQLite and Redis", table)
    return 1 if any(failed for _, _, failed in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
