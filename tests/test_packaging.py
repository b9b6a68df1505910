"""What a user downloads: the wheel carries the license, the sdist the examples too."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ("import sys; from setuptools import build_meta as b; "
         "print(getattr(b, 'build_' + sys.argv[1])(sys.argv[2]))")


def built(kind: str, out: Path) -> Path:
    """A wheel or sdist of this checkout, built by setuptools' PEP 517 hooks into ``out``
    from a copy (the build's own folders never touch the checkout's editable install)."""
    source = out / f"source-{kind}"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "*.egg-info", "node_modules", "dist", "__pycache__",
        ".pkg", "results"))
    done = subprocess.run([sys.executable, "-c", BUILD, kind, str(out)], cwd=source,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return out / done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dist")


def test_the_wheel_carries_the_license(dist: Path) -> None:
    with zipfile.ZipFile(built("wheel", dist)) as wheel:
        names = wheel.namelist()
        licenses = [n for n in names if n.endswith("LICENSE")]
        assert licenses and "Apache License" in wheel.read(licenses[0]).decode()
        assert "tersify/data/fusion.json" in names  # package data, as everywhere else


def test_the_sdist_carries_the_license_and_the_examples(dist: Path) -> None:
    with tarfile.open(built("sdist", dist)) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    examples = {p.relative_to(ROOT).as_posix() for p in (ROOT / "examples").rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
    assert "LICENSE" in names and examples and examples <= names
