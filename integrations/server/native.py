"""The native body of ``POST /v1/tersify``: ``tersify.CompressionRequest`` as JSON, or a batch.

The fields are the engine's request fields, one for one, with the server's limits (limits.py)
on top; names, enums and defaults come from the engine (names.py), so the OpenAPI states what
the engine does. A field the engine gains must be declared here with its limits: the tests
(tests/test_names_agree.py) fail until it is, rather than letting an unbounded value in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    Tag,
    model_validator,
)

from tersify.integrations.server import limits
from tersify.integrations.server.names import DEFAULT_POLICY, PolicyName, engine_default
from tersify.integrations.server.schemas import Int, KeepString, integral
from tersify.types import BudgetScope, DocumentKind, Granularity, Reorder

__all__ = ["NativeBatch", "NativeBody", "NativeDocument", "NativeRequest",
           "state_allowed_scorers"]


class NativeDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str = Field(max_length=limits.MAX_CONTEXT_CHARS)
    id: Annotated[str, Field(max_length=limits.MAX_ID_CHARS),
                  AfterValidator(limits.checked_id)] | None = None
    metadata: Annotated[dict[str, Any], AfterValidator(limits.checked_metadata)] = Field(
        default_factory=dict, description="Echoed in the result: at most "
        f"{limits.MAX_METADATA_BYTES:,} bytes as JSON, {limits.MAX_METADATA_DEPTH} levels deep, "
        "valid Unicode, finite numbers.")
    kind: DocumentKind = Field(
        default="auto", description="code: source code, cut into blocks kept or dropped whole; "
        "text: prose and markdown; auto: told apart by the text's lines.")

    def chars(self) -> int:
        return limits.text_chars([self.text, self.id]) + limits.metadata_chars(self.metadata)


def _context_kind(value: Any) -> str:
    return "text" if isinstance(value, str) else "document"


# A string or a document; the discriminator reports only the errors of the form that was sent.
NativeContext = Annotated[
    Annotated[NativeDocument, Tag("document")]
    | Annotated[Annotated[str, Field(max_length=limits.MAX_CONTEXT_CHARS)], Tag("text")],
    Discriminator(_context_kind)]
NativeContexts = Annotated[list[NativeContext],
                           Field(min_length=1, max_length=limits.MAX_CONTEXTS)]
NativeText = Annotated[str, Field(max_length=limits.MAX_NATIVE_TEXT_CHARS)]


class NativeRequest(BaseModel):
    """tersify.CompressionRequest as JSON; exactly one of contexts and prompt."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={
        "oneOf": [{"required": ["contexts"]}, {"required": ["prompt"]}]})
    # Optional but never null (the oneOf above): the default, "not given", is not validated.
    contexts: NativeContexts = Field(
        default=None,  # type: ignore[arg-type]
        description=f"At most {limits.MAX_CONTEXTS:,}; each a string or {{text, id, metadata}} "
        f"whose text is at most {limits.MAX_CONTEXT_CHARS:,} characters.")
    prompt: str = Field(default=None, max_length=limits.MAX_CONTEXT_CHARS)  # type: ignore[assignment]
    instruction: NativeText = engine_default("instruction")
    question: NativeText = engine_default("question")
    # Not null (the engine's "no ratio"): the schema could not say "only with target_tokens",
    # and every body it allows is served. Leaving it out with target_tokens set means the same.
    target_ratio: Literal["auto"] | Annotated[float, Field(gt=0, le=1)] = Field(
        default=engine_default("target_ratio"), description="Ignored when target_tokens is set.")
    target_tokens: Annotated[int, Field(ge=1), BeforeValidator(integral)] | None = Field(
        default=engine_default("target_tokens"), description="Overrides target_ratio when set.")
    budget_scope: BudgetScope = engine_default("budget_scope")
    min_documents: Int = Field(default=engine_default("min_documents"), ge=0,
                               le=limits.MAX_CONTEXTS)
    force_keep: list[KeepString] = Field(default_factory=list, max_length=100)
    force_keep_patterns: list[Annotated[KeepString, Field(json_schema_extra={"format": "regex"})]] \
        = Field(default_factory=list, max_length=100, description="RE2 syntax (linear time): no "
                "backreferences or lookaround.")
    preserve_first: Int = Field(default=engine_default("preserve_first"), ge=0, le=1000)
    preserve_last: Int = Field(default=engine_default("preserve_last"), ge=0, le=1000)
    keep_digits: StrictBool = engine_default("keep_digits")
    dedupe: StrictBool = engine_default("dedupe")
    reorder: Reorder = engine_default("reorder")
    granularity: Granularity | None = engine_default("granularity")
    policy: PolicyName = DEFAULT_POLICY
    scorer: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=engine_default("scorer"), description="One of the scorers this server allows "
        "(listed here); the server's preset scorer when null.")

    def chars(self) -> int:
        docs = sum(d.chars() if isinstance(d, NativeDocument) else len(d)
                   for d in self.contexts or [])
        return docs + limits.text_chars([self.prompt, self.instruction, self.question,
                                         *self.force_keep, *self.force_keep_patterns])

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        chars = self.chars()
        if chars > limits.MAX_TOTAL_CHARS:
            raise limits.too_large("the request", chars, limits.MAX_TOTAL_CHARS)
        return self


class NativeBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    requests: list[NativeRequest] = Field(
        min_length=1, max_length=limits.MAX_BATCH,
        description=f"At most {limits.MAX_BATCH} requests with {limits.MAX_BATCH_CONTEXTS:,} "
        f"contexts and {limits.MAX_TOTAL_CHARS:,} characters in all.")

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        contexts = sum(len(r.contexts or []) for r in self.requests)
        if contexts > limits.MAX_BATCH_CONTEXTS:
            raise limits.too_large("the batch", contexts, limits.MAX_BATCH_CONTEXTS, "contexts")
        chars = sum(r.chars() for r in self.requests)
        if chars > limits.MAX_TOTAL_CHARS:
            raise limits.too_large("the batch", chars, limits.MAX_TOTAL_CHARS)
        return self


def _body_kind(value: Any) -> str:
    return "NativeBatch" if isinstance(value, dict) and "requests" in value else "NativeRequest"


# One request or a batch, told apart by "requests": errors name only the form that was sent.
NativeBody = Annotated[Annotated[NativeRequest, Tag("NativeRequest")]
                       | Annotated[NativeBatch, Tag("NativeBatch")], Discriminator(_body_kind)]


def state_allowed_scorers(openapi: dict[str, Any], allowed: Sequence[str]) -> None:
    """Write the scorers a server allows into its OpenAPI (the request model lists none)."""
    field = openapi["components"]["schemas"]["NativeRequest"]["properties"]["scorer"]
    field["anyOf"] = [{"type": "string", "enum": list(allowed)}, {"type": "null"}]
