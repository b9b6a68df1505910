"""Request and response bodies of the three commercial dialects, as their documents give them.

Where the documents are vague, the choice is written on the field (and so in the OpenAPI).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_CONTEXT_CHARS = 120_000  # SuperCompress's documented limit, applied to every dialect
MAX_QUERY_CHARS = 2_000


class ErrorDetail(BaseModel):
    type: str
    message: str
    request_id: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


# --- Compresso: POST /v1/prompt-compress -------------------------------------------------------


class CompressoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    preserve_k_first: int = Field(default=0, ge=0, le=1000,
                                  description="Units kept verbatim at the start of each context.")
    preserve_k_last: int = Field(default=0, ge=0, le=1000,
                                 description="Units kept verbatim at the end.")
    include_question: bool = Field(default=True, description="Append the question to the output.")
    force_keep_tokens: list[str] = Field(default_factory=list, max_length=200,
                                         description="Strings that always survive.")


class CompressoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str | None = Field(default=None, max_length=MAX_CONTEXT_CHARS,
                               description="A whole prompt (instead of context/question).")
    context: str | list[str] | None = Field(
        default=None, description="One context or a list; each at most 120,000 characters.")
    instruction: str = Field(default="", max_length=MAX_QUERY_CHARS)
    question: str = Field(default="", max_length=MAX_QUERY_CHARS)
    target_ratio: float = Field(default=0.5, ge=0.01, le=1.0)
    target_tokens: int = Field(default=-1, ge=-1, description="-1: use target_ratio.")
    compression_settings: CompressoSettings = Field(default_factory=CompressoSettings)


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
    model_config = ConfigDict(extra="forbid")
    context: str = Field(min_length=1, max_length=MAX_CONTEXT_CHARS)
    query: str = Field(default="Summarize this context.", max_length=MAX_QUERY_CHARS)
    budget_ratio: float = Field(default=0.35, ge=0.05, le=1.0)


class PlaygroundRequest(SuperRequest):
    compare: bool = Field(default=False, description="Also run every policy side by side.")
    policy: Literal["tersify", "fifo", "truncation", "summarization", "h2o"] = "tersify"


class SuperResponse(BaseModel):
    compressed_text: str
    original_tokens: int
    kept_tokens: int
    kv_savings_pct: float
    kept_line_ratio: float
    policy_name: str
    budget_ratio: float
    kept_spans: list[tuple[int, int]] | None = Field(
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


# --- ScaleDown: POST /compress/raw/ ------------------------------------------------------------


class ScaleDownOptions(BaseModel):
    rate: Literal["auto"] | float = Field(default="auto", description='"auto" or a kept fraction '
                                          "in (0, 1].")


class ScaleDownRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    context: str = Field(max_length=MAX_CONTEXT_CHARS)
    prompt: str = Field(max_length=MAX_QUERY_CHARS)
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
