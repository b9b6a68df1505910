"""One source for every name and shape: what the engine defines, the server and the docs offer.

The engine owns the policy names (its registry), the reorder and granularity values
(``tersify.types``) and the request's fields and defaults (``CompressionRequest``). Checked here
against it: the OpenAPI's enums, fields and defaults; the playground page's choices and its
comparison; that ``/v1/tersify`` takes every field and every name and means by them what the
engine does; that every JSON body the engine takes, the native model takes unchanged (the
server may refuse only what is over its limits); and the README's tables.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import fields
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, get_args, get_type_hints

import httpx
import pytest
from conftest import Server
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tersify import (
    CompressionRequest,
    Compressor,
    Document,
    InvalidRequestError,
    available_policies,
)
from tersify.integrations.server.native import NativeRequest
from tersify.types import BUDGET_SCOPES, GRANULARITIES, REORDERS
from tersify.wire import request_from_dict

ROOT = Path(__file__).resolve().parents[1]
FIELDS = tuple(f.name for f in fields(CompressionRequest))
DEFAULTS = {f.name: f.default for f in fields(CompressionRequest)}
HINTS = get_type_hints(CompressionRequest)
DOCUMENT_HINTS = get_type_hints(Document)
# Exactly one of the pair is given: each one's default means "not given" (the engine's () and
# None, the server's unset field) and an explicit null or [] for the other is refused by design.
PAIR = ("contexts", "prompt")
# Null where the engine takes None but the server refuses it, so that its schema allows only
# what it serves: target_ratio null means "no ratio", valid only with target_tokens, and leaving
# it out says the same.
NOT_NULL_OVER_HTTP = {"target_ratio"}
ENGINE = Compressor(preset="fast", linear_patterns=True)  # the test server's engine (conftest)
CONTEXTS: list[Any] = [
    {"text": "The Harbor Line tram opened on 14 May 1911. A ticket cost two pennies.",
     "id": "tram", "metadata": {"source": "guide", "page": 3}},
    "The lighthouse was finished in 1887. Each autumn the town holds a lantern festival."]
QUESTION = "When did the tram open?"
# A value other than the engine's default for every request field.
SAMPLES: dict[str, Any] = {
    "contexts": CONTEXTS[::-1],
    "prompt": "Tram: opened in 1911. Lighthouse: finished in 1887.",
    "instruction": "Answer in one line.",
    "question": "When was the lighthouse finished?",
    "target_ratio": "auto",
    "target_tokens": 30,
    "budget_scope": "contexts",
    "min_documents": 1,
    "force_keep": ["lantern"],
    "force_keep_patterns": [r"\d{4}"],
    "preserve_first": 1,
    "preserve_last": 1,
    "keep_digits": True,
    "dedupe": False,
    "reorder": "relevance",
    "granularity": "sentence",
    "policy": "h2o",
    "scorer": "lexical",
}


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def schemas(server: Server) -> dict[str, Any]:
    openapi: dict[str, Any] = httpx.get(server.url + "/openapi.json", timeout=30).json()
    return openapi["components"]["schemas"]


def enum_of(schema: dict[str, Any]) -> list[Any]:
    """The enum of a property, or of its one non-null form."""
    for form in schema.get("anyOf", [schema]):
        if "enum" in form:
            return form["enum"]
    raise AssertionError(f"no enum in {schema}")


def assert_served_as_the_engine_compresses(server: Server, body: dict[str, Any]) -> None:
    """``/v1/tersify`` answers ``body`` with what the engine gives for it (time aside)."""
    response = httpx.post(server.url + "/v1/tersify", json=body,
                          headers={"X-API-Key": server.key}, timeout=30)
    assert response.status_code == 200, response.text
    served = response.json()
    local = jsonable(ENGINE.compress(request_from_dict(body)).to_dict())
    assert {**served, "duration_ms": 0} == {**local, "duration_ms": 0}


def test_the_openapi_enums_are_the_engines(server: Server) -> None:
    found = schemas(server)
    native = found["NativeRequest"]["properties"]
    assert enum_of(native["policy"]) == list(available_policies())
    assert enum_of(found["PlaygroundRequest"]["properties"]["policy"]) == \
        list(available_policies())
    assert enum_of(native["reorder"]) == list(REORDERS)
    assert enum_of(native["granularity"]) == list(GRANULARITIES)


def test_the_native_request_has_the_engines_fields_and_defaults(server: Server) -> None:
    found = schemas(server)
    native = found["NativeRequest"]["properties"]
    assert list(native) == list(FIELDS)
    assert list(found["NativeDocument"]["properties"]) == [f.name for f in fields(Document)]
    stated = {name: form["default"] for name, form in native.items()
              if "default" in form and name not in PAIR}
    assert stated == {name: jsonable(DEFAULTS[name]) for name in stated}
    # The OpenAPI states no null default, nor the empty list a list starts as; all others.
    assert all(DEFAULTS[name] in (None, ()) for name in set(FIELDS) - set(stated) - set(PAIR))


@pytest.mark.parametrize("name", [*FIELDS, "all"])
def test_every_engine_field_is_accepted_by_v1_tersify(server: Server, name: str) -> None:
    if name == "all":
        body = {n: v for n, v in SAMPLES.items() if n != "prompt"}
    else:
        assert name in SAMPLES, (f"CompressionRequest gained {name!r}: declare it, with its "
                                 "limits, in integrations/server/native.py and sample it here")
        assert jsonable(SAMPLES[name]) != jsonable(DEFAULTS[name])
        body = {"contexts": CONTEXTS, "question": QUESTION, name: SAMPLES[name]}
        if name == "prompt":
            del body["contexts"]
    assert_served_as_the_engine_compresses(server, body)


@pytest.mark.parametrize(("name", "value"), [
    *[("policy", p) for p in available_policies()], *[("reorder", r) for r in REORDERS],
    *[("granularity", g) for g in GRANULARITIES]])
def test_every_engine_name_is_accepted_by_v1_tersify(server: Server, name: str,
                                                     value: str) -> None:
    assert_served_as_the_engine_compresses(
        server, {"contexts": CONTEXTS, "question": QUESTION, "target_ratio": 0.4, name: value})


class PolicyOptions(HTMLParser):
    """The options of the page's ``<select id="policy">``: (text, selected) pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.options: list[tuple[str, bool]] = []
        self._in_select = self._in_option = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "select":
            self._in_select = ("id", "policy") in attrs
        elif tag == "option" and self._in_select:
            self._in_option = True
            self.options.append(("", any(key == "selected" for key, _ in attrs)))

    def handle_endtag(self, tag: str) -> None:
        self._in_select = self._in_select and tag != "select"
        self._in_option = self._in_option and tag != "option"

    def handle_data(self, data: str) -> None:
        if self._in_option:
            text, selected = self.options[-1]
            self.options[-1] = (text + data, selected)


def test_the_playground_offers_and_compares_the_engines_policies(server: Server) -> None:
    parser = PolicyOptions()
    parser.feed(httpx.get(server.url + "/", timeout=30).text)
    assert [text for text, _ in parser.options] == list(available_policies())
    assert [text for text, selected in parser.options if selected] == [DEFAULTS["policy"]]
    response = httpx.post(server.url + "/api/compress", timeout=30, json={
        "context": CONTEXTS[1], "query": QUESTION, "compare": True})
    assert response.status_code == 200, response.text
    assert list(response.json()["compare"]) == list(available_policies())


def readme_table(heading: str) -> list[list[str]]:
    """The body rows of the first table after ``heading`` in the README, cells stripped."""
    after = (ROOT / "README.md").read_text(encoding="utf-8").split(heading + "\n", 1)[1]
    rows: list[list[str]] = []
    for line in after.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # past the header and its separator


def test_the_readme_documents_the_engines_fields_names_and_defaults() -> None:
    rows = {tuple(re.findall(r"`(\w+)`", row[0])): row for row in readme_table("### Request fields")}
    assert sorted(name for names in rows for name in names) == sorted(FIELDS)
    for names, (_, default, meaning) in rows.items():
        if default.startswith("`"):  # else described in words ("preset's": None)
            assert all(ast.literal_eval(default.strip("`")) == DEFAULTS[n] for n in names), names
        if names in {("reorder",), ("granularity",)}:
            values = REORDERS if names == ("reorder",) else GRANULARITIES
            assert all(f"`{value}`" in meaning for value in values), meaning
    policies = [row[0].strip("`") for row in readme_table("### Policies")]
    assert policies == list(available_policies())


def test_the_readme_documents_every_adapter_option_and_its_default() -> None:
    from tersify.integrations._adapter import AdapterOptions

    rows = {tuple(re.findall(r"`(\w+)`", row[0])): row
            for row in readme_table("## LangChain and LlamaIndex")}
    fields = AdapterOptions.model_fields
    own = {"api_key": None, "set_score": False}  # declared by each adapter, not the base
    assert sorted(n for names in rows for n in names) == sorted([*fields, *own])
    for names, (_, default, _) in rows.items():
        for name in names:
            expected = own[name] if name in own else fields[name].get_default(
                call_default_factory=True)
            assert ast.literal_eval(default.strip("`")) == expected, name


# --- every body the engine takes, the native model takes, unchanged ----------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)  # JSON-writable
NAMES = st.sampled_from(["auto", "lexical", r"\d+", *available_policies(), *REORDERS,
                         *GRANULARITIES])
# JSON values within the server's limits (short texts, short lists, counts up to 1,000, finite
# numbers, valid Unicode): past its limits the server refuses what the engine takes, by design.
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2, 1_000),
              st.floats(allow_nan=False, allow_infinity=False), TEXT, NAMES),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=6)
SENTENCES = st.sampled_from(["The tram opened in 1911. It ran on the harbour.", "x", ""])
TYPED = {
    "instruction": st.sampled_from(["", "Answer briefly."]),
    "question": st.sampled_from(["", QUESTION]),
    "target_ratio": st.one_of(st.just("auto"), st.floats(0.01, 1.0)),
    "target_tokens": st.one_of(st.none(), st.integers(1, 60)),
    "budget_scope": st.sampled_from(BUDGET_SCOPES),
    "min_documents": st.integers(0, 3),
    "force_keep": st.lists(st.sampled_from(["tram", "1911"]), max_size=2),
    "force_keep_patterns": st.lists(st.sampled_from([r"\d+", "tram"]), max_size=2),
    "preserve_first": st.integers(0, 2),
    "preserve_last": st.integers(0, 2),
    "keep_digits": st.booleans(),
    "dedupe": st.booleans(),
    "reorder": st.sampled_from(REORDERS),
    "granularity": st.sampled_from((None, *GRANULARITIES)),
    "policy": st.sampled_from(available_policies()),
    "scorer": st.sampled_from([None, "lexical"]),
}


def wild(hint: Any, name: str = "") -> st.SearchStrategy[Any]:
    """Any JSON value, null only where the engine's declared type allows None."""
    nullable = type(None) in get_args(hint) and name not in NOT_NULL_OVER_HTTP
    return JSON_VALUES if nullable else JSON_VALUES.filter(lambda v: v is not None)


DOCUMENTS = st.one_of(
    SENTENCES,
    st.fixed_dictionaries({"text": SENTENCES}, optional={
        "id": st.one_of(st.none(), TEXT), "metadata": st.dictionaries(TEXT, JSON_VALUES)}),
    st.sampled_from(list(DOCUMENT_HINTS)).flatmap(lambda name: st.fixed_dictionaries(
        {"text": SENTENCES, name: wild(DOCUMENT_HINTS[name])})))


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A contexts or prompt body, well-typed fields, then one or two fields set to any value."""
    given_one = draw(st.sampled_from(PAIR))
    body: dict[str, Any] = {"prompt": draw(SENTENCES)} if given_one == "prompt" else {
        "contexts": draw(st.lists(DOCUMENTS, min_size=1, max_size=3))}
    body |= draw(st.fixed_dictionaries({}, optional=TYPED))
    names = [n for n in FIELDS if n not in PAIR or n == given_one]
    for name in draw(st.lists(st.sampled_from(names), max_size=2, unique=True)):
        body[name] = draw(st.one_of(wild(HINTS[name]), st.lists(DOCUMENTS, max_size=3))
                          if name == "contexts" else wild(HINTS[name], name))
    return body


@given(bodies())
def test_every_body_the_engine_takes_the_native_model_takes_unchanged(
    body: dict[str, Any]
) -> None:
    try:
        expected = request_from_dict(jsonable(body))
        ENGINE.compress(expected)  # names (policy, scorer) and RE2 patterns are checked here
    except InvalidRequestError:
        return
    try:
        served = NativeRequest.model_validate_json(json.dumps(body))
    except ValidationError as exc:
        raise AssertionError(f"the engine takes {body!r}; /v1/tersify refuses it: {exc}") from None
    assert request_from_dict(served.model_dump(exclude_unset=True)) == expected
