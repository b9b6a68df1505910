"""The public surface is pinned, and packaging metadata matches the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import tersify
from tersify import MissingDependencyError
from tersify._optional import require

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_all_is_pinned() -> None:
    assert sorted(tersify.__all__) == sorted([
        "CompressionRequest", "CompressionResult", "CompressionStats", "Compressor", "Document",
        "DocumentResult", "InvalidRequestError", "MissingDependencyError", "Scorer", "Scores",
        "Span", "TersifyError", "TokenCounter", "Tuning", "__version__", "auto_ratio",
        "available_policies", "available_presets", "available_scorers", "get_scorer",
        "get_token_counter",
    ])
    for name in tersify.__all__:
        assert hasattr(tersify, name)


def test_registries_list_the_documented_names() -> None:
    assert tersify.available_scorers() == ("lexical", "embedding", "lm", "classifier")
    assert tersify.available_policies() == ("tersify", "truncation", "fifo", "summarization", "h2o")
    assert tersify.available_presets() == ("fast", "balanced", "accurate")


def test_every_extra_named_in_the_code_exists() -> None:
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    named = set()
    for path in (ROOT / "engine").rglob("*.py"):
        named |= set(re.findall(r'extra="(\w+)"', path.read_text()))
    assert named and named <= extras


def test_missing_dependency_names_the_extra() -> None:
    try:
        require("surely_not_installed_module", extra="models")
    except MissingDependencyError as exc:
        assert "pip install 'tersify[models]'" in str(exc)
        assert isinstance(exc, ImportError)
    else:
        raise AssertionError("require() did not raise")


def test_every_package_directory_is_listed() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["package-dir"].values())
    found = {str(p.parent.relative_to(ROOT)) for d in ("engine", "integrations")
             for p in (ROOT / d).rglob("__init__.py")}
    assert found == listed


def test_lexical_engine_imports_no_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, tersify; tersify.Compressor().compress(contexts=['a b. c d.'], "
            "question='a'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
