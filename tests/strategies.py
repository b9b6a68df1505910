"""Hypothesis strategies for the engine's properties: text in many scripts, and whole requests.

Documents are made of sentences from a pool built once from a fixed seed (Latin and other
spaced scripts, Korean, unspaced Chinese and Japanese, Thai, combining marks, emoji sequences,
numbers in several digit sets), line endings (LF, CRLF), spaces (NBSP, U+3000) and markdown
blocks (tables, fences, an unclosed fence), so that one example costs a few Hypothesis draws
and 2,000 examples stay cheap. ``TRICKY`` is a character alphabet for the segmenter's own
property, where Hypothesis combines characters freely.

Budgets are drawn relative to the token count of the request's own contexts, so most examples
keep part of their contexts: a property about kept spans says nothing about an example that
keeps none. A few examples get a budget that the instruction and question alone exceed, so the
"only forced parts remain" branch of the budget property runs too. The test command prints the
share of examples that kept context (see conftest.py).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import event
from hypothesis import strategies as st

from tersify import CompressionResult
from tersify.assemble import join_prompt
from tersify.tokens import get_token_counter

__all__ = ["DOCUMENTS", "OUTCOMES", "POOL", "TOKENIZERS", "TRICKY", "Case", "record", "requests",
           "texts"]

T = TypeVar("T")

TOKENIZERS = ("cl100k_base", "o200k_base")
POLICIES = ("tersify", "tersify", "tersify", "truncation", "fifo", "summarization", "h2o")

LATIN = ("the river flows north into of delta Paris café naïve Smith said: \"yes!\" (maybe) "
         "e.g. Dr. snake_case_id CamelCase https://ex.am/p?q=1 x=y+1 Who? A. мир Ελλάδα "
         "مرحبا שלום Москва résumé").split()
ASCII_NUMBERS = "1,234.56 2014 3.14159 -42 $5 100% 1e-9 0x1F 07:45".split()
DIGIT_SETS = ("0123456789", "０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९",
              "一二三四五六七八九十百千万〇")
HAN_KANA = "東京日本首都大阪川山人時間年月今私学生国語はのにをがでするとてたいうかきくけこアイウエオー"
THAI = "กขคงจฉชซญดตถทนบปผพฟมยรลวสหอะาำิีึืุูเแโไ่้๊๋็์"
# Combining marks, variation selectors, emoji sequences, flags, a tag sequence, halfwidth and
# decomposed kana voicing marks, an emoji of the CJK symbols block, Prepend characters.
CLUSTERS = ("e\u0301", "n\u0303", "a\u0308\u0301", "\u0915\u094d\u0937", "❤\ufe0f", "👍🏽",
            "👩\u200d💻", "👨\u200d👩\u200d👧\u200d👦", "🇯🇵", "🇺🇸🇫🇷", "1\ufe0f\u20e3", "ｶﾞ",
            "か\u3099", "〰\ufe0f", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
            "葛\U000e0100", "\u0600\u0661", "\u0600", " \u0301", "ก\u0e33", "\U00020000\u3099")
GAPS = (" ", " ", " ", " ", "\u00a0", "\u3000", "\t", "  ", " \u200f")
ENDS = (". ", ". ", "! ", "? ", ".", "。", "！")

Word = Callable[[random.Random], str]


def _number(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(ASCII_NUMBERS)
    digits = rng.choice(DIGIT_SETS)
    return "".join(rng.choice(digits) for _ in range(rng.randint(1, 9)))


def _chars(alphabet: str, most: int) -> Word:
    return lambda rng: "".join(rng.choice(alphabet) for _ in range(rng.randint(1, most)))


def _hangul(rng: random.Random) -> str:
    return "서울은" if rng.random() < 0.1 else "".join(
        chr(rng.randint(0xAC00, 0xD7A3)) for _ in range(rng.randint(1, 4)))


def _pick(*choices: Word) -> Word:
    return lambda rng: rng.choice(choices)(rng)


def _latin(rng: random.Random) -> str:
    return rng.choice(LATIN)


def _cluster(rng: random.Random) -> str:
    return rng.choice(CLUSTERS)


def _spaced(word: Word) -> Callable[[random.Random], str]:
    def sentence(rng: random.Random) -> str:
        words = [word(rng) + rng.choice(GAPS) for _ in range(rng.randint(2, 14))]
        return "".join(words).rstrip() + rng.choice(ENDS)
    return sentence


def _unspaced(rng: random.Random) -> str:
    chunk = _pick(_chars(HAN_KANA, 6), _chars(HAN_KANA, 6), _number, _cluster)
    return "".join(chunk(rng) for _ in range(rng.randint(2, 8))) + rng.choice("。、！？，")


FAMILIES = (
    _spaced(_pick(_latin, _latin, _number)),
    _spaced(_pick(_hangul, _hangul, _number)),
    _unspaced,
    _spaced(_pick(_chars(THAI, 12), _number)),
    _spaced(_pick(_latin, _cluster, _number)),
)
_RNG = random.Random(20261122)
POOL = tuple(FAMILIES[i % len(FAMILIES)](_RNG) for i in range(1_500))

BLOCKS = ("# Heading 東京\n", "## 서울은 the capital\n", "- item one 1,234\n",
          "1. first ７８９\n", "> quoted 👍🏽 text\n",
          "| a | b |\n|---|---|\n| 1 | ２ |\n| 東京 | e\u0301 |\n", "```\ncode(１２３)\n```\n",
          "~~~\nx = 1\n~~~\n")
UNCLOSED_FENCES = ("```python\nx = 1  # 東京\ny = '서울은'\n", "```\n| a |\n")
NEWLINES = ("\n", "\n", "\r\n", "\n\n", "\r\n\r\n", " \n")
TRICKY = st.sampled_from(sorted(set(
    "aé1２３٣七十万〇서울은한東京のアｶﾞก\u0e33\u0e48\u0301\u0308\u3099\u302a\ufe0f\U000e0100"
    "\u200d\u200c\U0001f3fd👩🇯🇵❤\u0600\u094d\u0915.,、。！ \u00a0\u3000\t\r\n-|#`>")))


_LINES = {bounds: st.integers(*bounds) for bounds in ((1, 4), (1, 2), (15, 25))}
_SEED = st.integers(0, 2**32 - 1)
_INDEX = st.integers(0, 2**16)
_RATIO = st.floats(0.2, 0.9)


def choose(draw: st.DrawFn, options: Sequence[T]) -> T:
    """One of ``options`` (the first when shrinking), from a strategy built once.

    Strategies built inside a composite are validated again at every example; drawing an
    index from one made at import keeps an example's cost in its draws.
    """
    return options[draw(_INDEX) % len(options)]


@st.composite
def texts(draw: st.DrawFn, *, blocks: bool = True, lines: tuple[int, int] = (1, 4)) -> str:
    """One document: lines of pooled sentences, markdown blocks if ``blocks``.

    Hypothesis draws the number of lines and a seed that picks them, so a document costs
    two draws however long it is, and shrinking still goes to fewer lines.
    """
    count = draw(_LINES[lines])
    rng = random.Random(draw(_SEED))
    newline = rng.choice(NEWLINES)
    parts = []
    for _ in range(count):
        if blocks and rng.random() < 0.2:
            parts.append(rng.choice(BLOCKS))
        else:
            parts.append(" ".join(rng.choices(POOL, k=rng.randint(1, 2))) + newline)
    if blocks and rng.random() < 0.1:
        parts.append(rng.choice(UNCLOSED_FENCES))
    return "".join(parts)


def _documents(*, blocks: bool, small: bool) -> st.SearchStrategy[list[str]]:
    few = st.lists(texts(blocks=blocks), min_size=1, max_size=4)
    if small:
        return few
    many = st.lists(texts(blocks=blocks, lines=(1, 2)), min_size=8, max_size=12)
    long = texts(blocks=blocks, lines=(15, 25)).map(lambda t: [t])
    return st.one_of(few, few, few, few, many, long)


# A few short documents mostly; sometimes many, or a long one (unless small).
DOCUMENTS = {(b, small): _documents(blocks=b, small=small)
             for b in (True, False) for small in (True, False)}
QUESTIONS = ("", "Where is it?", "東京は?", "words")
INSTRUCTIONS = ("", "", "Answer briefly.", "次の質問に答えて。")
FORCED = (0, 0, 0, 0, 1, 2)  # how many words of the contexts force_keep names
PATTERNS = (r"\d{4}", r"[A-Z][a-z]+", r"https?://\S+", r"[０-９]+", r"서울")


@dataclass(frozen=True)
class Case:
    """A request's fields and the tokenizer its budget is counted in."""

    tokenizer: str
    fields: dict[str, Any]


@st.composite
def requests(draw: st.DrawFn, *, blocks: bool = True, policies: tuple[str, ...] = POLICIES,
             extras: bool = True, small: bool = False) -> Case:
    """A request whose budget leaves room for part of its contexts, most of the time.

    ``extras`` draws forced strings (words of the contexts) and patterns, preserved units
    and ``keep_digits``.
    """
    contexts = draw(DOCUMENTS[blocks, small])
    words = sorted({w for text in contexts for w in text.split() if len(w) <= 30}) or ["東京"]
    question = choose(draw, QUESTIONS)
    if question == "words":
        question = " ".join(choose(draw, words) for _ in range(1 + draw(_INDEX) % 4)) + "?"
    fields: dict[str, Any] = {
        "contexts": contexts, "question": question,
        "instruction": choose(draw, INSTRUCTIONS), "policy": choose(draw, policies),
        "granularity": choose(draw, (None, None, "word", "sentence", "document")),
        "reorder": choose(draw, ("original", "relevance", "edges")),
    }
    if extras:
        forced = {choose(draw, words) for _ in range(choose(draw, FORCED))}
        # Only strings the contexts hold ("東京" stands in for words when none is short).
        fields["force_keep"] = sorted(w for w in forced if any(w in t for t in contexts))
        fields["force_keep_patterns"] = [choose(draw, PATTERNS)] * (draw(_INDEX) % 4 == 1)
        fields["preserve_first"] = choose(draw, (0,) * 8 + (1, 2))
        fields["preserve_last"] = choose(draw, (0,) * 9 + (1,))
        fields["keep_digits"] = choose(draw, (False, True))
    tokenizer = choose(draw, TOKENIZERS)
    fields.update(_budget(draw, tokenizer, fields))
    return Case(tokenizer=tokenizer, fields=fields)


def _budget(draw: st.DrawFn, tokenizer: str, fields: dict[str, Any]) -> dict[str, Any]:
    count = get_token_counter(tokenizer).count
    fixed = count(join_prompt(fields["instruction"], [], fields["question"]))
    kind = choose(draw, ("share",) * 5 + ("ratio",) * 2 + ("overflow",))
    if kind == "share":  # a share of the contexts' own tokens, on top of the verbatim parts
        context = count(join_prompt("", fields["contexts"], ""))
        return {"target_tokens": fixed + 2 + max(1, round(draw(_RATIO) * context))}
    if kind == "ratio":
        return {"target_ratio": draw(_RATIO), "target_tokens": None}
    return {"target_tokens": 1 + draw(_INDEX) % (fixed + 4)}  # the verbatim parts may overflow


OUTCOMES: Counter[str] = Counter()


def record(result: CompressionResult) -> bool:
    """Count whether ``result`` kept part of its contexts; returns it."""
    kept = any(d.spans for d in result.documents)
    OUTCOMES["examples"] += 1
    OUTCOMES["kept context"] += kept
    event("kept context" if kept else "kept no context")
    return kept
