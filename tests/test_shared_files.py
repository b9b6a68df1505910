"""Files tersify writes for every user of a machine (issue 13, bug 1): the seeded tiktoken
file, the converted SmolLM2 directory and the int8 MiniLM are readable by all (files 0644,
directories 0755) and written atomically (no staging left behind)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_seeded_tiktoken_file_is_readable_by_every_user(tmp_path: Path) -> None:
    cache = tmp_path / "not-yet" / "tiktoken"
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache)}
    code = "import tersify; print(tersify.Compressor().compress(contexts=['a b c']).stats)"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    files = list(cache.iterdir())
    assert len(files) == 1 and _mode(files[0]) == 0o644
    assert _mode(cache) == 0o755


@pytest.mark.models
def test_converted_models_are_readable_by_every_user(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from tersify.models import minilm_int8_path, smollm2_path

    monkeypatch.setenv("TERSIFY_CACHE_DIR", str(tmp_path))
    onnx = minilm_int8_path()
    smollm = smollm2_path()
    assert _mode(onnx) == 0o644
    assert _mode(smollm) == 0o755
    assert all(_mode(f) & 0o044 == 0o044 for f in smollm.iterdir())  # group and others read
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([onnx.name, smollm.name])
    assert minilm_int8_path() == onnx and smollm2_path() == smollm  # converted once
