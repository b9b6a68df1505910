"""One slow request must not stall everyone (issue 10, items 6 and 8), over real HTTP: a
bounded queue (503 + Retry-After when full), a per-request deadline (504, not billed), a stuck
compression in a worker process killed and replaced, /readyz bounded and honest about the
engine, the new settings, and ``tersify serve``'s limit_concurrency and shutdown timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN, Server
from misbehaving import (
    DIE,
    DOCS,
    HOLD,
    HoldingScorer,
    running,
    stuck_compressor,
    usage_requests,
)
from test_server_process import CLI, serve

import tersify
from tersify.integrations.server.settings import ServerSettings, SettingsError

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def body(question: str) -> dict[str, Any]:
    return {"contexts": DOCS, "question": question, "target_ratio": 0.5}


class Call(threading.Thread):
    """One request in the background; its response (or the error) once joined."""

    def __init__(self, server: Server, question: str, timeout: float = 60) -> None:
        super().__init__(daemon=True)
        self.server, self.question, self.timeout = server, question, timeout
        self.response: httpx.Response | None = None
        self.error: Exception | None = None
        self.start()

    def run(self) -> None:
        try:
            self.response = httpx.post(self.server.url + "/v1/tersify", json=body(self.question),
                                       headers={"X-API-Key": self.server.key},
                                       timeout=self.timeout)
        except httpx.HTTPError as exc:
            self.error = exc


def wait_until(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def post(server: Server, question: str) -> httpx.Response:
    return httpx.post(server.url + "/v1/tersify", json=body(question), timeout=60,
                      headers={"X-API-Key": server.key, "X-Request-ID": "rid-1"})


def test_a_full_queue_answers_503_with_retry_after_at_once(tmp_path: Path) -> None:
    release = threading.Event()
    engine = tersify.Compressor(scorer=HoldingScorer(release))
    with running(tmp_path / "q.db", engine, max_queue=3) as server:
        try:
            held = [Call(server, f"{HOLD} {i}") for i in range(3)]
            wait_until(lambda: server.app.state.batcher.pending == 3)
            full = post(server, "When did the tram open?")
            assert full.status_code == 503
            assert full.headers["Retry-After"] == "1"
            assert full.json() == {"error": {"type": "overloaded", "request_id": "rid-1",
                                             "message": "the server is busy; retry in a second"}}
            assert httpx.get(server.url + "/healthz", timeout=1).status_code == 200
        finally:
            release.set()
        for call in held:
            call.join(timeout=60)
            assert call.response is not None and call.response.status_code == 200
        assert post(server, "When did the tram open?").status_code == 200
        assert usage_requests(server) == 4  # the three held and the last; not the refused one


def test_a_request_past_its_deadline_gets_504_and_no_bill(tmp_path: Path) -> None:
    release = threading.Event()
    engine = tersify.Compressor(scorer=HoldingScorer(release))
    with running(tmp_path / "d.db", engine, deadline_s=2.0) as server:
        try:
            late = post(server, HOLD)
            assert late.status_code == 504
            assert late.json() == {"error": {
                "type": "timeout", "request_id": "rid-1",
                "message": "the compression did not finish within the server's deadline of "
                           "2 s"}}
            assert httpx.get(server.url + "/healthz", timeout=1).status_code == 200
        finally:
            release.set()  # a thread cannot be stopped: the held compression ends, unanswered
        ok = post(server, "When did the tram open?")
        assert ok.status_code == 200 and ok.json()["scorer"] == "holding"
        assert usage_requests(server) == 1


def test_a_stuck_compression_in_a_worker_process_is_killed_and_replaced(tmp_path: Path) -> None:
    with running(tmp_path / "p.db", engine_processes=1, deadline_s=2.0,
                 compressor_factory=stuck_compressor) as server:
        pool = server.app.state.batcher.pool
        [stuck_pid] = pool.pids()
        late = post(server, HOLD)
        assert late.status_code == 504 and late.json()["error"]["type"] == "timeout"
        assert httpx.get(server.url + "/healthz", timeout=1).status_code == 200
        wait_until(lambda: pool.restarts == 1)
        with pytest.raises(ProcessLookupError):  # killed and reaped, not left running
            os.kill(stuck_pid, 0)
        statuses = []  # until the fresh worker is warm a request may time out too
        while not statuses or statuses[-1] != 200:
            statuses.append(post(server, "When did the tram open?").status_code)
            assert len(statuses) < 30 and set(statuses) <= {200, 504}, statuses
        assert len(pool.pids()) == 1 and pool.pids() != [stuck_pid]
        assert usage_requests(server) == 1  # the one success; no 504 is billed


def test_an_engine_process_that_dies_mid_request_is_replaced(tmp_path: Path) -> None:
    with running(tmp_path / "die.db", engine_processes=1,
                 compressor_factory=stuck_compressor) as server:
        pool = server.app.state.batcher.pool
        [dead_pid] = pool.pids()
        died = post(server, DIE)
        assert died.status_code == 500 and died.json() == {"error": {
            "type": "internal_error", "message": "the server failed on this request",
            "request_id": "rid-1"}}
        wait_until(lambda: pool.restarts == 1)
        statuses = []  # until the fresh worker is warm a request waits for it
        while not statuses or statuses[-1] != 200:
            statuses.append(post(server, "When did the tram open?").status_code)
            assert len(statuses) < 30 and set(statuses) <= {200, 504}, statuses
        assert pool.pids() != [dead_pid] and usage_requests(server) == 1


def test_readyz_waits_for_the_engine_and_stays_bounded(tmp_path: Path) -> None:
    import uvicorn
    from conftest import make_app

    app = make_app(tmp_path / "r.db")
    # Lifespan off: nothing warms the engine, as if it were still loading its models.
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    wait_until(lambda: uv.started)
    url = f"http://127.0.0.1:{uv.servers[0].sockets[0].getsockname()[1]}"
    try:
        cold = httpx.get(url + "/readyz", timeout=5)
        assert cold.status_code == 503
        assert cold.json() == {"status": "not ready", "failing": ["engine"]}
        assert httpx.get(url + "/healthz", timeout=1).status_code == 200
        app.state.batcher.start()
        assert httpx.get(url + "/readyz", timeout=5).json() == {"status": "ready"}
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("TERSIFY_DEADLINE_S", "0", "must be a number of seconds above 0, at most 3600"),
    ("TERSIFY_DEADLINE_S", "inf", "must be a number of seconds above 0"),
    ("TERSIFY_ENGINE_PROCESSES", "-1", "must be a whole number from 0 to 64"),
    ("TERSIFY_MAX_QUEUE", "0", "must be a whole number of at least 1"),
    ("TERSIFY_LIMIT_CONCURRENCY", "many", "must be a whole number of at least 1"),
    ("TERSIFY_SHUTDOWN_TIMEOUT_S", "0", "must be a whole number of at least 1"),
])
def test_capacity_settings_are_checked(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable} {message}"):
        ServerSettings.from_env({variable: value})


def test_capacity_settings_come_from_the_environment() -> None:
    settings = ServerSettings.from_env({
        "TERSIFY_ENGINE_PROCESSES": "2", "TERSIFY_DEADLINE_S": "2.5", "TERSIFY_MAX_QUEUE": "9",
        "TERSIFY_LIMIT_CONCURRENCY": "50", "TERSIFY_SHUTDOWN_TIMEOUT_S": "7"})
    assert (settings.engine_processes, settings.deadline_s, settings.max_queue,
            settings.limit_concurrency, settings.shutdown_timeout_s) == (2, 2.5, 9, 50, 7)
    assert ServerSettings.from_env({"TERSIFY_ENGINE_PROCESSES": ""}).engine_processes is None


def test_the_engine_runs_in_a_worker_process_unless_given_as_an_instance(
        tmp_path: Path) -> None:
    with running(tmp_path / "own.db") as server:
        pool = server.app.state.batcher.pool
        assert pool is not None and len(pool.pids()) == 1 and os.getpid() not in pool.pids()
        ok = post(server, "When did the tram open?")
        local = tersify.Compressor(preset="fast").compress(**body("When did the tram open?"))
        assert ok.status_code == 200
        assert ok.json()["compressed_prompt"] == local.compressed_prompt
    with running(tmp_path / "given.db", tersify.Compressor()) as server:
        assert server.app.state.batcher.pool is None  # an instance stays where it is


def test_an_engine_instance_cannot_go_to_worker_processes(tmp_path: Path) -> None:
    from tersify.integrations.server import create_app

    settings = ServerSettings(database_url=f"sqlite:///{tmp_path / 'x.db'}", engine_processes=1)
    with pytest.raises(ValueError, match="pass compressor_factory"):
        create_app(settings, compressor=tersify.Compressor())


def _key(url: str, **fields: Any) -> dict[str, Any]:
    made = httpx.post(url + "/admin/keys", json={"name": "k", **fields}, headers=ADMIN)
    assert made.status_code == 201
    return dict(made.json())


def test_serve_limits_requests_in_flight_with_a_json_503(tmp_path: Path) -> None:
    # Each request waits 3 s for batch company: three of them fill the server.
    env = {"TERSIFY_ADMIN_TOKEN": ADMIN_TOKEN, "TERSIFY_LIMIT_CONCURRENCY": "3",
           "TERSIFY_BATCH_WAIT_MS": "3000"}
    with serve(tmp_path, env) as (_, url):
        secret = _key(url)["secret"]
        # On a loaded machine the slow requests may not all be in yet: try a few rounds.
        refused = next(filter(None, (_round_of_slow_requests(url, secret) for _ in range(3))))
        assert refused.json()["error"]["type"] == "overloaded"
        assert refused.headers["Retry-After"] == "1" and refused.headers["X-Request-ID"]
        assert httpx.post(url + "/v1/tersify", json=body("q"), headers={"X-API-Key": secret},
                          timeout=30).status_code == 200  # room again once they are done


def _round_of_slow_requests(url: str, secret: str) -> httpx.Response | None:
    """The 503 a fourth request got while three slow ones were in the server (the liveness
    probe answering all the while), or None."""
    busy = [threading.Thread(target=httpx.post, daemon=True, args=(url + "/v1/tersify",),
                             kwargs={"json": body("q"), "headers": {"X-API-Key": secret},
                                     "timeout": 30}) for _ in range(3)]
    for thread in busy:
        thread.start()
    refused = None
    while any(thread.is_alive() for thread in busy) and refused is None:
        assert httpx.get(url + "/healthz", timeout=5).status_code == 200
        r = httpx.post(url + "/v1/tersify", json=body("q"), headers={"X-API-Key": secret},
                       timeout=30)
        refused = r if r.status_code == 503 else None
    for thread in busy:
        thread.join(timeout=30)
    return refused


def test_serve_stops_within_its_shutdown_timeout_and_bills_nothing_cut_off(
        tmp_path: Path) -> None:
    # A request waits a minute for batch company; SIGTERM gives it 1 s.
    env = {"TERSIFY_ADMIN_TOKEN": ADMIN_TOKEN, "TERSIFY_SHUTDOWN_TIMEOUT_S": "1",
           "TERSIFY_BATCH_WAIT_MS": "60000", "TERSIFY_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    with serve(tmp_path, env) as (process, url):
        made = _key(url)
        answer: list[Any] = []
        waiting = threading.Thread(target=lambda: answer.append(_try_post(url, made["secret"])),
                                   daemon=True)
        waiting.start()
        time.sleep(1)  # it is in the server, waiting for company
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)
        waiting.join(timeout=30)
    assert answer and answer[0] != 200  # cut off, not answered
    assert "Traceback" not in (tmp_path / "err.txt").read_text()
    usage = subprocess.run([*CLI, "keys", "--database-url", env["TERSIFY_DATABASE_URL"], "usage",
                            made["key"]["id"]], capture_output=True, text=True, check=True)
    assert '"days": []' in usage.stdout  # nothing billed


def _try_post(url: str, secret: str) -> int | str:
    try:
        return httpx.post(url + "/v1/tersify", json=body("q"), headers={"X-API-Key": secret},
                          timeout=90).status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__
