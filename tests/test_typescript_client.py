"""The TypeScript client (clients/typescript), built and tested by npm against a real server.

Its own tests (``node --test``) start ``tersify serve`` with this interpreter
(``TERSIFY_PYTHON``), so they exercise this checkout's server. ``scripts/dev.py test`` installs
Debian's ``nodejs`` and ``npm`` when they are missing; on a machine without them the test skips,
except in CI (``CI`` set), where it must run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.node
CLIENT = Path(__file__).resolve().parents[1] / "clients" / "typescript"
MIN_NODE = 18  # package.json's engines


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; scripts/dev.py test installs it in CI")
        pytest.skip(f"{name} is not installed (scripts/dev.py test installs Debian's nodejs "
                    "and npm); the TypeScript client is not tested here")
    return path


def _npm(npm: str, *args: str) -> str:
    env = {**os.environ, "TERSIFY_PYTHON": sys.executable, "npm_config_audit": "false",
           "npm_config_fund": "false", "npm_config_update_notifier": "false"}
    run = subprocess.run([npm, *args], cwd=CLIENT, env=env, capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, (f"npm {' '.join(args)} exited with {run.returncode}:\n"
                                 f"{run.stdout[-6000:]}\n{run.stderr[-6000:]}")
    return run.stdout


def test_typescript_client_builds_and_passes_its_tests_against_a_real_server() -> None:
    node, npm = _tool("node"), _tool("npm")
    version = subprocess.run([node, "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    assert int(version.lstrip("v").split(".")[0]) >= MIN_NODE, f"node {version} is too old"
    _npm(npm, "ci", "--prefer-offline")
    _npm(npm, "run", "build")
    out = _npm(npm, "test")
    # The summary of node's TAP reporter ("# pass 32"), or of its spec reporter ("ℹ pass 32"),
    # the default of newer Node versions: some tests ran, none failed.
    passed = re.search(r"^(?:#|ℹ) pass (\d+)$", out, re.MULTILINE)
    assert passed and int(passed.group(1)) > 0, out[-3000:]
    assert re.search(r"^(?:#|ℹ) fail 0$", out, re.MULTILINE), out[-3000:]
