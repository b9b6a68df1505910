"""Type fuzzing: any value in any request field gives an InvalidRequestError or a valid result.

Every field of CompressionRequest and Document is drawn from arbitrary values (None, bools,
ints, floats, bytes, text, lists, tuples, dicts, nested lists, lists of non-strings) mixed with
well-typed ones, so that wrong types also reach the engine next to otherwise valid settings.
The Python path (``Compressor.compress(**fields)``) and the JSON path (``request_from_dict``,
what the server and ``tersify compress --jsonl`` read) are both checked. About a third of the
generated requests are valid (617 and 640 of the 2,000 derandomized examples when this was
written), so both outcomes are exercised.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tersify import CompressionRequest, CompressionResult, Compressor, Document, InvalidRequestError
from tersify.wire import request_from_dict

COMPRESSOR = Compressor(preset="fast")
FIELDS = tuple(f.name for f in fields(CompressionRequest))

# Strings that are wrong somewhere: empty, a bad pattern, a lone surrogate, one huge repeat.
EDGE_TEXT = st.sampled_from(["", "[", "a{4294967296}", "\ud800", "(" * 2000 + ")" * 2000])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**300),
                    st.floats(), st.text(max_size=12), EDGE_TEXT, st.binary(max_size=8))
ANY = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=8)
JSON_ANY = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
              EDGE_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)

WORDS = st.sampled_from(["Lyon", "Tea", "China", "1610", "Rhône", "(?i)lyon", "ACME"])
SENTENCES = st.sampled_from(["Lyon is in France. It sits on the Rhône.",
                             "Tea came from China in 1610. ACME sells it.", "x", ""])
# Well-typed values for every field (a few out of range), so that wrong types in one or two
# fields meet otherwise valid and varied requests.
TYPED = {
    "instruction": st.sampled_from(["", "Answer briefly."]),
    "question": st.sampled_from(["", "Where is Lyon?", "When did tea come?"]),
    "target_ratio": st.one_of(st.none(), st.just("auto"), st.floats(0.01, 1.0)),
    "target_tokens": st.one_of(st.none(), st.integers(1, 60)),
    "force_keep": st.lists(WORDS, max_size=3),
    "force_keep_patterns": st.lists(WORDS, max_size=3),
    "preserve_first": st.integers(0, 2),
    "preserve_last": st.integers(0, 2),
    "keep_digits": st.booleans(),
    "dedupe": st.booleans(),
    "reorder": st.sampled_from(["original", "relevance", "edges"]),
    "granularity": st.sampled_from([None, "word", "sentence", "document"]),
    "policy": st.sampled_from(["tersify", "truncation", "fifo", "summarization", "h2o", "x"]),
    "scorer": st.sampled_from([None, "lexical", "bm99"]),
}


def documents(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Document objects with arbitrary fields; the ones that are refused become None."""
    return st.builds(_document_or_none, text=st.one_of(SENTENCES, value),
                     id=st.one_of(st.none(), st.text(max_size=4), value),
                     metadata=st.one_of(st.just({}), st.dictionaries(st.text(max_size=4), value,
                                                                     max_size=2), value))


def _document_or_none(**kwargs: Any) -> Document | None:
    try:
        return Document(**kwargs)
    except InvalidRequestError:
        return None


def requests(value: st.SearchStrategy[Any], *, objects: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Request fields: contexts or a prompt, any typed fields, then one or two fields set to
    ``value`` (arbitrary); ``objects`` mixes Document objects into the contexts."""
    entry: st.SearchStrategy[Any] = SENTENCES
    wild_entry = value
    if objects:
        entry = st.one_of(SENTENCES, st.builds(
            Document, text=SENTENCES, id=st.one_of(st.none(), st.text(max_size=4)),
            metadata=st.dictionaries(st.text(max_size=4), value, max_size=2)))
        wild_entry = st.one_of(value, documents(value))
    source = st.one_of(st.fixed_dictionaries({"contexts": st.lists(entry, min_size=1, max_size=3)}),
                       st.fixed_dictionaries({"prompt": SENTENCES}))
    wild_contexts = st.one_of(value, st.lists(st.one_of(entry, wild_entry), max_size=3))
    wild = {name: wild_contexts if name == "contexts" else value for name in FIELDS}
    wrong = st.lists(st.sampled_from(FIELDS), max_size=2, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({name: wild[name] for name in names}))
    return st.tuples(source, st.fixed_dictionaries({}, optional=TYPED), wrong).map(
        lambda parts: {**parts[0], **parts[1], **parts[2]})


def assert_valid(result: CompressionResult, request: CompressionRequest) -> None:
    """A result that holds together: spans index the documents, counts match, JSON-ready."""
    for doc, source in zip(result.documents, request.documents, strict=True):
        at = 0
        for span in doc.spans:
            assert 0 <= span.start < span.end <= len(source.text)
            at = doc.text.index(source.text[span.start : span.end], at) + span.end - span.start
    assert result.stats.compressed_tokens == COMPRESSOR.tokens.count(result.compressed_prompt)
    json.dumps({**result.to_dict(), "documents": None})  # metadata may hold bytes: not ours


@given(requests(ANY, objects=True))
def test_any_value_in_any_field_is_refused_clearly_or_compressed(
    request_fields: dict[str, Any]
) -> None:
    try:
        result = COMPRESSOR.compress(**request_fields)
    except InvalidRequestError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert_valid(result, CompressionRequest(**request_fields))


@given(text=ANY, id=ANY, metadata=ANY)
def test_any_value_in_any_document_field_is_refused_clearly_or_compressed(
    text: Any, id: Any, metadata: Any
) -> None:
    try:
        doc = Document(text=text, id=id, metadata=metadata)
        result = COMPRESSOR.compress(contexts=[doc, "Rivers flow to the sea."], question="sea",
                                     target_ratio=0.5)
    except InvalidRequestError:
        return
    assert result.documents[0].id == id and dict(result.documents[0].metadata) == dict(metadata)


@given(requests(JSON_ANY, objects=False))
def test_any_json_value_in_any_field_is_refused_clearly_or_compressed(
    request_fields: dict[str, Any]
) -> None:
    data = json.loads(json.dumps(request_fields))
    try:
        request = request_from_dict(data)
        result = COMPRESSOR.compress(request)
    except InvalidRequestError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert_valid(result, request)
