"""Settings from ``TERSIFY_*`` variables, and ``tersify serve`` run as users run it: a real
process (uvicorn with lifespan on) configured by the environment, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import tersify
from tersify.integrations.server.settings import ServerSettings, SettingsError
from tersify.wire import result_from_dict

DOCS = ["The Harbor Line tram opened to passengers on 14 May 1911. A ticket cost two pennies.",
        "The lighthouse was finished in 1887 and automated in 1961.",
        "The fish market opens at four in the morning and closes at noon."]
BODY = {"contexts": DOCS, "question": "When did the tram open?", "target_ratio": 0.5}
CLI = [sys.executable, "-m", "tersify.integrations.cli"]
ENV_ADMIN = "env-admin-token-from-the-environment"  # at least 32 characters

BAD_VALUES = [
    ("TERSIFY_RATE_LIMIT", "-5", "TERSIFY_RATE_LIMIT must be a whole number of at least 1, "
                                 "got '-5'"),
    ("TERSIFY_RATE_WINDOW_S", "0", "TERSIFY_RATE_WINDOW_S must be a whole number"),
    ("TERSIFY_MAX_BODY_BYTES", "2MB", "TERSIFY_MAX_BODY_BYTES must be a whole number"),
    ("TERSIFY_ENGINE_THREADS", "1.5", "TERSIFY_ENGINE_THREADS must be a whole number"),
    ("TERSIFY_PLAYGROUND_LIMIT", "", "TERSIFY_PLAYGROUND_LIMIT must be a whole number"),
    ("TERSIFY_MAX_BATCH", "0", "TERSIFY_MAX_BATCH must be a whole number"),
    ("TERSIFY_BATCH_WAIT_MS", "nan", "TERSIFY_BATCH_WAIT_MS must be a number of milliseconds "
                                     "from 0 to 60000, got 'nan'"),
    ("TERSIFY_BATCH_WAIT_MS", "-1", "TERSIFY_BATCH_WAIT_MS must be a number of milliseconds"),
    ("TERSIFY_PRESET", "turbo", "TERSIFY_PRESET must be one of fast, balanced, accurate, "
                                "got 'turbo'"),
    ("TERSIFY_DATABASE_URL", "keys.db", "TERSIFY_DATABASE_URL must be a SQLAlchemy URL"),
    ("TERSIFY_DATABASE_URL", "mongodb://admin:hunter2@db/keys",
     "TERSIFY_DATABASE_URL must be a SQLAlchemy URL of a known database"),
    ("TERSIFY_REDIS_URL", "http://admin:hunter2@cache:6379",
     "TERSIFY_REDIS_URL must be a redis://, rediss:// or unix:// URL"),
]


@pytest.mark.parametrize(("variable", "value", "message"), BAD_VALUES)
def test_from_env_refuses_a_bad_value_and_names_the_variable(variable: str, value: str,
                                                            message: str) -> None:
    with pytest.raises(SettingsError) as info:
        ServerSettings.from_env({variable: value})
    assert str(info.value).startswith(message)
    assert "hunter2" not in str(info.value)  # URLs may carry passwords: never echoed
    assert isinstance(info.value, tersify.TersifyError) and isinstance(info.value, ValueError)


def test_from_env_reads_every_setting() -> None:
    settings = ServerSettings.from_env({
        "TERSIFY_DATABASE_URL": "postgresql+psycopg://u@db/keys", "TERSIFY_REDIS_URL": "",
        "TERSIFY_ADMIN_TOKEN": "t" * 32, "TERSIFY_PRESET": "balanced", "TERSIFY_RATE_LIMIT": " 7 ",
        "TERSIFY_RATE_WINDOW_S": "60", "TERSIFY_PLAYGROUND_LIMIT": "5",
        "TERSIFY_MAX_BODY_BYTES": "1000", "TERSIFY_ENGINE_THREADS": "2",
        "TERSIFY_MAX_BATCH": "4", "TERSIFY_BATCH_WAIT_MS": "0.5", "TERSIFY_UNRELATED": "x"})
    assert settings == ServerSettings(
        database_url="postgresql+psycopg://u@db/keys", redis_url=None, admin_token="t" * 32,
        preset="balanced", rate_limit=7, rate_window_s=60, playground_limit=5,
        max_body_bytes=1000, engine_threads=2, max_batch=4, batch_wait_ms=0.5)


@pytest.mark.parametrize("fields", [{"rate_limit": 0}, {"max_batch": True}, {"preset": "x"},
                                    {"batch_wait_ms": float("inf")}, {"admin_token": ""},
                                    {"engine_threads": "2"}])
def test_settings_made_in_code_are_checked_too(fields: dict[str, Any]) -> None:
    name = next(iter(fields))
    with pytest.raises(SettingsError, match=f"^{name} "):
        ServerSettings(**fields)


# --- tersify serve as a process ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(folder: Path, env: dict[str, str],
          *options: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``tersify serve`` on a free port with ``env`` added (and ``options``); its process and
    URL once it answers. Its output goes to files in ``folder`` (out.txt, err.txt). One worker
    process unless ``env`` or ``options`` say otherwise (test_server_workers.py tests more)."""
    port = free_port()
    with open(folder / "out.txt", "w") as out, open(folder / "err.txt", "w") as err:
        process = subprocess.Popen([*CLI, "serve", "--port", str(port), *options], cwd=folder,
                                   env={**os.environ, "TERSIFY_WORKERS": "1", **env},
                                   stdout=out, stderr=err, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _answers(url + "/healthz"):
            assert process.poll() is None, (folder / "err.txt").read_text()
            assert time.monotonic() < deadline, "tersify serve did not answer in 90 s"
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).json() == {"status": "ok"}
    except httpx.HTTPError:
        return False


def new_key(url: str, token: str, **fields: Any) -> httpx.Response:
    return httpx.post(url + "/admin/keys", json={"name": "proc", **fields},
                      headers={"Authorization": f"Bearer {token}"})


def test_serve_runs_as_the_environment_says_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'served.db'}"
    env = {"TERSIFY_DATABASE_URL": database, "TERSIFY_ADMIN_TOKEN": ENV_ADMIN,
           "TERSIFY_RATE_LIMIT": "3", "TERSIFY_RATE_WINDOW_S": "120",
           "TERSIFY_MAX_BODY_BYTES": "20000", "TERSIFY_BATCH_WAIT_MS": "1500"}
    with serve(tmp_path, env) as (process, url):
        assert httpx.get(url + "/readyz").status_code == 200
        assert new_key(url, "wrong").status_code == 401
        created = new_key(url, ENV_ADMIN)  # the admin token from the environment
        assert created.status_code == 201
        plain = {"X-API-Key": created.json()["secret"]}
        answers = [httpx.post(url + "/v1/tersify", json=BODY, headers=plain, timeout=30)
                   for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]  # TERSIFY_RATE_LIMIT
        assert answers[0].headers["X-RateLimit-Limit"] == "3"
        assert 0 < int(answers[3].headers["Retry-After"]) <= 120  # TERSIFY_RATE_WINDOW_S
        local = tersify.Compressor(preset="fast").compress(**BODY).to_dict()
        remote = result_from_dict(answers[0].json()).to_dict()
        assert {**remote, "duration_ms": 0} == {**local, "duration_ms": 0}
        too_big = httpx.post(url + "/v1/tersify", content=b'{"contexts": ["' + b"a " * 10_000
                             + b'"]}', headers={**plain, "content-type": "application/json"})
        assert too_big.status_code == 413  # TERSIFY_MAX_BODY_BYTES

        roomy = new_key(url, ENV_ADMIN, rate_limit=100).json()
        in_flight = _post_in_background(url, roomy["secret"])
        _wait_until_counted(url, roomy)  # it passed the gate; now it waits 1.5 s for company
        process.send_signal(signal.SIGTERM)
        in_flight.join(timeout=60)
        assert in_flight.status == 200  # a graceful stop: the request in flight is answered
        # uvicorn re-raises the signal once it has shut down, so the exit is the signal's own.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert "Traceback" not in (tmp_path / "err.txt").read_text()
    assert f"tersify serving on {url}" in (tmp_path / "out.txt").read_text()
    usage = subprocess.run([*CLI, "keys", "--database-url", database, "usage", roomy["key"]["id"]],
                           capture_output=True, text=True, check=True).stdout
    assert json.loads(usage)["days"][0]["requests"] == 1  # billed before the process ended


class _Post(threading.Thread):
    def __init__(self, url: str, secret: str) -> None:
        super().__init__(daemon=True)
        self.url, self.secret, self.status = url, secret, 0

    def run(self) -> None:
        self.status = httpx.post(self.url + "/v1/tersify", json=BODY, timeout=60,
                                 headers={"X-API-Key": self.secret}).status_code


def _post_in_background(url: str, secret: str) -> _Post:
    post = _Post(url, secret)
    post.start()
    return post


def _wait_until_counted(url: str, key: dict[str, Any]) -> None:
    """Until the key's rate limit counts one request more than these polls (each poll counts)."""
    limit, headers = key["key"]["rate_limit"], {"X-API-Key": key["secret"]}
    for polls in range(1, 200):
        r = httpx.get(f"{url}/api/keys/{key['key']['id']}/usage", headers=headers)
        if int(r.headers["X-RateLimit-Remaining"]) < limit - polls:
            return
        time.sleep(0.05)
    raise AssertionError("the background request never reached the server")


@pytest.mark.parametrize(("args", "env", "needle"), [
    (["serve"], {"TERSIFY_RATE_LIMIT": "-1"}, "TERSIFY_RATE_LIMIT must be a whole number"),
    (["serve"], {"TERSIFY_BATCH_WAIT_MS": "soon"}, "TERSIFY_BATCH_WAIT_MS must be a number"),
    (["serve"], {"TERSIFY_PRESET": "turbo"}, "TERSIFY_PRESET must be one of"),
    (["serve", "--preset", "turbo"], {}, "preset must be one of"),
    (["serve"], {"TERSIFY_REDIS_URL": "http://cache:6379"}, "TERSIFY_REDIS_URL must be"),
    (["serve"], {"TERSIFY_DATABASE_URL": "sqlite:////no/such/folder/keys.db"},
     "cannot open the database: unable to open database file"),
    (["keys", "list"], {"TERSIFY_DATABASE_URL": "keys.db"}, "TERSIFY_DATABASE_URL must be"),
])
def test_a_bad_setting_exits_2_with_one_line(tmp_path: Path, args: list[str],
                                             env: dict[str, str], needle: str) -> None:
    port = ["--port", str(free_port())] if args[0] == "serve" else []
    run = subprocess.run([*CLI, *args, *port], cwd=tmp_path, env={**os.environ, **env},
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert run.stderr.startswith("tersify: error: ") and needle in run.stderr
    assert run.stdout == ""


def test_a_key_made_in_one_folder_is_served_from_another(tmp_path: Path) -> None:
    # No database URL: the default file is in the user's data directory, not the working one.
    data, made_in, served_from = tmp_path / "data", tmp_path / "a", tmp_path / "b"
    made_in.mkdir()
    served_from.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "TERSIFY_DATABASE_URL"}
    env["XDG_DATA_HOME"] = str(data)
    made = subprocess.run([*CLI, "keys", "create", "laptop"], cwd=made_in, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    secret = made.stdout.split("secret: ")[1].split()[0]
    with serve(served_from, {"XDG_DATA_HOME": str(data)}) as (_, url):
        answer = httpx.post(url + "/v1/tersify", headers={"Authorization": f"Bearer {secret}"},
                            json={"contexts": ["The tram opened in 1911."], "target_ratio": 0.9})
    assert answer.status_code == 200, answer.text
    assert (data / "tersify" / "tersify.db").is_file()
    assert (data / "tersify").stat().st_mode & 0o777 == 0o700  # key hashes: the user's alone
    assert not list(made_in.glob("*.db")) and not list(served_from.glob("*.db"))
