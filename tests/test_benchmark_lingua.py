"""LLMLingua's view of the model is tersify's: same token ids, same logits, same token losses.

The reference LLMLingua runs in the benchmark's own environment (``.venv-bench``: transformers
4.46, which reads tersify's transformers-5 copy of SmolLM2 only through
``benchmarks/lingua.py``'s ``compat_model_dir``). This test runs llmlingua's
``PromptCompressor`` there, in a subprocess (``benchmarks/lingua.py --logits``), and compares
what it computes with tersify's own loading of the same weights, here.

Without ``.venv-bench``: under CI (``CI`` set) the test builds it (``scripts/dev.py``'s
``install_bench``, a few minutes) so that it never goes quietly unrun there; elsewhere it is
skipped, and the reason names the command that makes the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEXT = "The Nobel Prize in Physics 1903 was shared by Marie Curie and Pierre Curie."


@pytest.fixture(scope="module")
def bench_python() -> Path:
    python = REPO / ".venv-bench" / "bin" / "python"
    if python.exists():
        return python
    if not os.environ.get("CI"):
        pytest.skip("no .venv-bench (the benchmark's LLMLingua environment): "
                    "`python3 scripts/dev.py bench` makes it, and CI builds it for this test")
    sys.path.insert(0, str(REPO / "scripts"))
    import dev

    return Path(dev.install_bench())


@pytest.mark.models
def test_llmlingua_sees_the_same_model_as_tersify(bench_python: Path, tmp_path: Path) -> None:
    import torch

    from tersify.models import load_causal_lm, smollm2_path

    out = tmp_path / "view.pt"
    subprocess.run([str(bench_python), str(REPO / "benchmarks" / "lingua.py"), "--logits",
                    str(smollm2_path()), TEXT, str(out)], check=True, timeout=600)
    view = torch.load(out)
    loaded = load_causal_lm()
    ids = loaded.tokenizer(TEXT, return_tensors="pt")["input_ids"]
    assert view["ids"].tolist() == ids[0].tolist()
    with torch.inference_mode():
        logits = loaded.model(input_ids=ids).logits[0]
    torch.testing.assert_close(view["logits"], logits, atol=1e-4, rtol=1e-4)
    # What llmlingua prunes by: each token's loss given the ones before it (get_ppl).
    losses = torch.nn.functional.cross_entropy(logits[:-1], ids[0, 1:], reduction="none")
    torch.testing.assert_close(view["losses"], losses, atol=1e-4, rtol=1e-4)
