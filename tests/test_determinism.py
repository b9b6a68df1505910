"""The same requests give the same results in other processes: other hash seeds (string and set
order) and, for the model presets, other torch thread counts (reduction order)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from strategies import Case, requests

from tersify import Compressor

# Reads [presets, [[tokenizer, fields], ...]] on stdin, writes {preset: [result dict, ...]}.
CHILD = """
import json, os, sys
threads = os.environ.get("TERSIFY_TEST_TORCH_THREADS")
if threads:
    import torch
    torch.set_num_threads(int(threads))
from tersify import Compressor
presets, cases = json.load(sys.stdin)
out = {}
for preset in presets:
    compressors, out[preset] = {}, []
    for tokenizer, fields in cases:
        if tokenizer not in compressors:
            compressors[tokenizer] = Compressor(preset=preset, tokenizer=tokenizer)
        result = compressors[tokenizer].compress(**fields).to_dict()
        del result["duration_ms"]
        out[preset].append(result)
json.dump(out, sys.stdout)
"""
CONSTRUCTED = [
    Case(tokenizer="cl100k_base", fields={
        "contexts": ["Paris is the capital of France. It has 2,148,271 people.",
                     "Rome is in Italy. 東京は日本の首都です。", "서울은 한국의 수도이다."],
        "question": "Which city is the capital of France?", "target_ratio": 0.5}),
    Case(tokenizer="o200k_base", fields={
        "contexts": ["売上は１２３４５６７８円でした。 e\u0301 👨\u200d👩\u200d👧 🇯🇵"] * 3,
        "question": "売上?", "target_tokens": 20, "reorder": "edges"}),
]


def fixed_cases(n: int) -> list[Case]:
    """``n`` generated requests, the same at every run (derandomized), plus constructed ones."""
    found: list[Case] = []

    @settings(max_examples=n, derandomize=True, database=None, phases=[Phase.generate])
    @given(requests(small=True))
    def collect(case: Case) -> None:
        found.append(case)

    collect()
    return CONSTRUCTED + found


def results_in_child(presets: list[str], cases: list[Case], *, seed: int,
                     threads: int | None = None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    if threads is not None:
        env["TERSIFY_TEST_TORCH_THREADS"] = str(threads)
    payload = json.dumps([presets, [[c.tokenizer, c.fields] for c in cases]])
    run = subprocess.run([sys.executable, "-c", CHILD], input=payload, capture_output=True,
                         text=True, env=env, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return dict(json.loads(run.stdout))


def test_fast_preset_gives_the_same_results_under_every_hash_seed() -> None:
    cases = fixed_cases(60)
    here = []
    for case in cases:
        result = Compressor(preset="fast", tokenizer=case.tokenizer).compress(**case.fields)
        here.append({k: v for k, v in result.to_dict().items() if k != "duration_ms"})
    runs = [results_in_child(["fast"], cases, seed=seed) for seed in (0, 1, 2)]
    assert json.loads(json.dumps(here)) == runs[0]["fast"]
    assert runs[0] == runs[1] == runs[2]


@pytest.mark.models
def test_model_presets_give_the_same_results_under_every_hash_seed_and_thread_count() -> None:
    cases = fixed_cases(20)
    presets = ["balanced", "accurate"]
    # Each seed once and each thread count at least once (a child loads torch and MiniLM).
    runs = [results_in_child(presets, cases, seed=seed, threads=threads)
            for seed, threads in ((0, 1), (1, 2), (2, 1))]
    assert runs[0] == runs[1] == runs[2]
