"""Request and response bodies of the three commercial dialects, as their documents give them.

Where the documents are vague, the choice is written on the field (and so in the OpenAPI).
Request models are strict (no "1" for 1, no 0 for false) and closed (unknown fields are a 400),
so that what the schema says is exactly what the server accepts. The size limits of every body
come from limits.py, the engine's names (policies) from names.py. The native body, the engine's
own request, is in native.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tersify.integrations.server import limits
from tersify.integrations.server.names import DEFAULT_POLICY, PolicyName


def integral(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer; strict models would refuse it, so take it as 3.
    return int(value) if isinstance(value, float) and value.is_integer() else value


Int = Annotated[int, BeforeValidator(integral)]
# A force_keep string (or pattern): non-empty, bounded.
KeepString = Annotated[str, Field(min_length=1, max_length=limits.MAX_KEEP_CHARS)]


class ErrorDetail(BaseModel):
    type: str
    message: str
    request_id: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


# --- Compresso: POST /v1/prompt-compress -------------------------------------------------------


class CompressoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    preserve_k_first: Int = Field(default=0, ge=0, le=1000,
                                  description="Units kept verbatim at the start of each context.")
    preserve_k_last: Int = Field(default=0, ge=0, le=1000,
                                 description="Units kept verbatim at the end.")
    include_question: StrictBool = Field(default=True,
                                         description="Append the question to the output.")
    force_keep_tokens: list[KeepString] = Field(
        default_factory=list, max_length=200,
        description=f"Strings that always survive (each at most {limits.MAX_KEEP_CHARS:,} "
        "characters).")


Context = Annotated[str, Field(max_length=limits.MAX_CONTEXT_CHARS)]
Contexts = Annotated[list[Context], Field(min_length=1, max_length=limits.MAX_CONTEXTS)]
# One context or a list: errors name only the form that was sent ("context.list: ...").
OneOrMore = Annotated[Annotated[Context, Tag("text")] | Annotated[Contexts, Tag("list")],
                      Discriminator(lambda value: "list" if isinstance(value, list) else "text")]


class CompressoRequest(BaseModel):
    # prompt or context, not both (the engine takes one or the other); an empty prompt or
    # context counts as absent, so Compresso's own example, which gives both as "", is valid.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"anyOf": [
        {"required": ["prompt"], "not": {"required": ["context"]}},
        {"required": ["context"], "not": {"required": ["prompt"]}},
        {"required": ["prompt"], "properties": {"prompt": {"const": ""}}},
        {"required": ["context"], "properties": {"context": {"const": ""}}},
        {"required": ["context"], "properties": {"context": {"type": "array", "maxItems": 0}}},
    ]})
    # Optional but never null: the default (None, "not given") is not validated, an explicit
    # null is refused like any other non-string.
    prompt: Context = Field(  # type: ignore[assignment]
        default=None, description="A whole prompt (instead of context/question).")
    context: OneOrMore = Field(  # type: ignore[assignment]
        default=None, description=f"One context or a list of at most {limits.MAX_CONTEXTS:,}; "
        f"each at most {limits.MAX_CONTEXT_CHARS:,} characters, all of the body at most "
        f"{limits.MAX_TOTAL_CHARS:,}.")
    instruction: str = Field(default="", max_length=limits.MAX_QUERY_CHARS)
    question: str = Field(default="", max_length=limits.MAX_QUERY_CHARS)
    target_ratio: float = Field(default=0.5, ge=0.01, le=1.0)
    target_tokens: Annotated[Literal[-1] | Annotated[int, Field(ge=1)],
                             BeforeValidator(integral)] = Field(
        default=-1, description="-1: use target_ratio.")
    compression_settings: CompressoSettings = Field(default_factory=CompressoSettings)

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        contexts = [self.context] if isinstance(self.context, str) else self.context or []
        chars = limits.text_chars([self.prompt, *contexts, self.instruction, self.question,
                            *self.compression_settings.force_keep_tokens])
        if chars > limits.MAX_TOTAL_CHARS:
            raise limits.too_large("the request", chars, limits.MAX_TOTAL_CHARS)
        return self


class CompressoStatistics(BaseModel):
    original_tokens: int
    compressed_tokens: int
    original_words: int
    compressed_words: int
    token_ratio: float
    word_ratio: float


class CompressoAnalytics(BaseModel):
    compression_duration: float = Field(description="Seconds.")
    request_id: str
    timestamp: str


class CompressoResponse(BaseModel):
    compressed_prompt: str
    statistics: CompressoStatistics
    analytics: CompressoAnalytics


# --- SuperCompress: POST /v1/compress, POST /api/compress -------------------------------------


class SuperRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    context: str = Field(min_length=1, max_length=limits.MAX_CONTEXT_CHARS)
    query: str = Field(default="Summarize this context.", max_length=limits.MAX_QUERY_CHARS)
    budget_ratio: float = Field(default=0.35, ge=0.05, le=1.0)


class PlaygroundRequest(SuperRequest):
    compare: StrictBool = Field(default=False, description="Also run every policy side by side.")
    policy: PolicyName = DEFAULT_POLICY


class SuperResponse(BaseModel):
    compressed_text: str
    original_tokens: int
    kept_tokens: int
    kv_savings_pct: float
    kept_line_ratio: float
    policy_name: str
    budget_ratio: float
    kept_spans: list[list[int]] | None = Field(
        default=None, description="Playground only: kept character spans of the context.")


class PlaygroundResponse(SuperResponse):
    compare: dict[str, SuperResponse] | None = None


class UsageDayBody(BaseModel):
    day: str
    requests: int
    tokens_in: int
    tokens_out: int


class UsageResponse(BaseModel):
    key_id: str
    requests: int
    tokens_in: int
    tokens_out: int
    days: list[UsageDayBody]


class UsageTotals(BaseModel):
    requests: int
    tokens_in: int = Field(description="Original tokens of the requests.")
    tokens_out: int = Field(description="Compressed tokens returned.")
    tokens_saved: int = Field(description="tokens_in - tokens_out.")


class DailyUsageBody(UsageTotals):
    day: str = Field(description="A UTC day, YYYY-MM-DD.")


class DailyUsageResponse(BaseModel):
    key_id: str
    key_name: str
    first: str = Field(description="The range's first day (UTC).")
    last: str = Field(description="The range's last day (UTC), included.")
    totals: UsageTotals
    days: list[DailyUsageBody] = Field(
        description="Every day of the range, oldest first; a day without requests has zeros.")


# --- ScaleDown: POST /compress/raw/ ------------------------------------------------------------


def _scaledown_rate(value: Any) -> Any:
    """One clear message for every wrong rate (a union's per-branch errors confuse)."""
    if value == "auto" or (isinstance(value, int | float) and not isinstance(value, bool)
                           and 0 < value <= 1):
        return value
    shown = f"{value!r} (a string)" if isinstance(value, str) else _json_shape(value)
    raise PydanticCustomError("rate", 'must be "auto" or a number in (0, 1], e.g. 0.4; got '
                              "{shown}", {"shown": shown})


def _json_shape(value: Any) -> str:
    """How a JSON value reads in a message: short, and never the whole of a large value."""
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    return repr(value)[:40]


class ScaleDownOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    rate: Annotated[Literal["auto"] | Annotated[float, Field(gt=0, le=1)],
                    BeforeValidator(_scaledown_rate)] = Field(
        default="auto", description='"auto" or a kept fraction in (0, 1].')


class ScaleDownRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    context: str = Field(max_length=limits.MAX_CONTEXT_CHARS)
    prompt: str = Field(max_length=limits.MAX_QUERY_CHARS)
    scaledown: ScaleDownOptions


class ScaleDownMetadata(BaseModel):
    compression_time_ms: float
    compression_rate: Literal["auto"] | float
    prompt_length: int
    compressed_prompt_length: int


class ScaleDownResponse(BaseModel):
    compressed_prompt: str
    original_prompt_tokens: int
    compressed_prompt_tokens: int
    successful: bool
    latency_ms: float
    request_metadata: ScaleDownMetadata
