"""Ray Serve without a Ray instance: the replica options, the settings replicas refuse, the
Batcher handing each request to a runner (the replicas' ``@serve.batch``), and what
``tersify serve --ray`` says before it starts anything."""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from test_cli import assert_bad_input
from test_server_process import CLI

from tersify import CompressionRequest, Compressor, InvalidRequestError
from tersify.integrations.server.batching import Batcher
from tersify.integrations.server.errors import ApiError
from tersify.integrations.server.fallback import Outcome
from tersify.integrations.server.settings import ServerSettings, SettingsError

ENGINE = Compressor(preset="fast")


@pytest.fixture(scope="module")
def rs() -> ModuleType:
    pytest.importorskip("ray.serve")
    import tersify.integrations.ray.serve as module

    return module


def _request(i: int) -> CompressionRequest:
    return CompressionRequest(contexts=[f"Fact {i}: the tram opened in 19{i:02d}. It rained."],
                              question=f"When did tram {i} open?", target_ratio=0.5)


def test_a_runner_gets_each_request_and_each_caller_its_own_answer() -> None:
    seen: list[CompressionRequest] = []

    async def runner(request: CompressionRequest) -> Outcome:
        seen.append(request)
        if request.question.endswith("3 open?"):
            return Outcome(error=InvalidRequestError("three is refused"))
        if request.question.endswith("4 open?"):
            raise RuntimeError("the runner broke")
        return Outcome(result=ENGINE.compress(request))

    async def main() -> list[Any]:
        batcher = Batcher(ENGINE, runner=runner, max_batch=2)
        answers = await asyncio.gather(*(batcher.compress(_request(i)) for i in range(6)),
                                       return_exceptions=True)
        assert batcher.batches == 0 and batcher.pending == 0  # the runner batched, not it
        return answers

    answers = asyncio.run(main())
    assert len(seen) == 6
    for i, answer in enumerate(answers):
        if i == 3:
            assert isinstance(answer, InvalidRequestError)
        elif i == 4:
            assert isinstance(answer, RuntimeError)
        else:
            assert f"tram {i} open" in answer.compressed_prompt


def test_a_runner_past_the_deadline_is_a_504() -> None:
    async def slow(request: CompressionRequest) -> Outcome:
        await asyncio.sleep(5)
        return Outcome(result=ENGINE.compress(request))

    async def main() -> None:
        batcher = Batcher(ENGINE, runner=slow, deadline_s=0.1)
        with pytest.raises(ApiError) as caught:
            await batcher.compress(_request(1))
        assert caught.value.status == 504

    asyncio.run(main())


def test_replica_options_read_the_environment_then_the_arguments(rs: ModuleType) -> None:
    env = {"TERSIFY_RAY_MAX_REPLICAS": "8", "TERSIFY_RAY_MIN_REPLICAS": "2",
           "TERSIFY_RAY_REPLICA_CPUS": "0.5", "TERSIFY_RAY_REPLICAS": ""}
    options = rs.ReplicaOptions.from_env(env, {"target_ongoing_requests": "4"})
    assert options.most == 8
    assert options.deployment_options() == {
        "autoscaling_config": {"min_replicas": 2, "max_replicas": 8, "initial_replicas": 2,
                               "target_ongoing_requests": 4.0},
        "ray_actor_options": {"num_cpus": 0.5, "num_gpus": 0.0}, "max_ongoing_requests": 64}
    fixed = rs.ReplicaOptions.from_env({}, {"replicas": "3"}).deployment_options()
    assert fixed["num_replicas"] == 3 and "autoscaling_config" not in fixed


@pytest.mark.parametrize(("given", "message"), [
    ({"replicas": "0"}, "replicas must be a whole number of at least 1, got 0"),
    ({"replicas": "two"}, "replicas must be a number, got 'two'"),
    ({"min_replicas": "1"}, "min_replicas needs max_replicas"),
    ({"min_replicas": "5", "max_replicas": "2"}, "min_replicas 5 is above max_replicas 2"),
    ({"replica_cpus": "-1"}, "replica_cpus must be a number of at least 0"),
    ({"replica": "2"}, "unknown replica option 'replica'"),
])
def test_replica_options_refuse_bad_values(rs: ModuleType, given: dict[str, str],
                                           message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        rs.ReplicaOptions.from_env({}, given)


@pytest.mark.parametrize("database", ["sqlite://", "postgresql+psycopg://u@db/keys"])
def test_several_replicas_need_limits_they_can_share(rs: ModuleType, database: str) -> None:
    settings = ServerSettings(database_url=database)
    with pytest.raises(SettingsError, match="2 replicas need limits shared by every replica"):
        rs.replica_settings(settings, rs.ReplicaOptions(replicas=2))
    one = rs.replica_settings(settings, rs.ReplicaOptions(replicas=1))
    assert (one.workers, one.engine_processes) == (1, 0)  # the replica runs the engine itself
    shared = replace(settings, redis_url="redis://127.0.0.1:1/0")
    assert rs.replica_settings(shared, rs.ReplicaOptions(max_replicas=4)).workers == 4


def _tersify(tmp_path: Path, *args: str,
             path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TERSIFY_WORKERS": ""}
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join([path, env.get("PYTHONPATH", "")])
    return subprocess.run([*CLI, "serve", "--database-url", f"sqlite:///{tmp_path}/k.db", *args],
                          capture_output=True, text=True, timeout=120, check=False, env=env)


def test_serve_ray_without_the_ray_extra_exits_2_in_one_line(tmp_path: Path) -> None:
    # A package of that name that fails to import, first on the path: the extra is missing.
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "__init__.py").write_text(
        "raise ImportError('No module named ray', name='ray')\n")
    assert_bad_input(_tersify(tmp_path, "--ray", path=str(tmp_path)),
                     "install it with pip install 'tersify[ray]'")


@pytest.mark.parametrize(("args", "message"), [
    (("--replicas", "2"), "--replicas, --min-replicas and --max-replicas need --ray"),
    (("--ray", "--workers", "2"), "not with --workers or --engine-processes"),
    (("--ray", "--replicas", "2", "--database-url", "sqlite://"),
     "2 replicas need limits shared by every replica"),
])
def test_serve_ray_refuses_what_it_cannot_run_before_starting_ray(
        tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    pytest.importorskip("ray.serve")
    assert_bad_input(_tersify(tmp_path, *args), message)
