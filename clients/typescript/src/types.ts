/**
 * The request and result of the native endpoint `POST /v1/tersify`, as JSON.
 *
 * Field names are the wire names (snake_case), the same as the Python engine's
 * `CompressionRequest` and `CompressionResult.to_dict()`: one vocabulary for the engine, the
 * HTTP API, its OpenAPI document and both clients.
 */

/** How the kept documents are ordered in the compressed prompt. */
export type Reorder = "original" | "relevance" | "edges";

/** The smallest unit the compressor removes. */
export type Granularity = "word" | "sentence" | "document";

/** What the budget counts: the whole prompt, or the contexts alone (instruction and question
 * then come on top). */
export type BudgetScope = "prompt" | "contexts";

/** What a document is: "auto" (told from its lines), "text" or "code" (cut into whole blocks). */
export type DocumentKind = "auto" | "text" | "code";

/** A context with an id and metadata, both echoed in its result. */
export interface Document {
  readonly text: string;
  readonly id?: string | null | undefined;
  readonly metadata?: Readonly<Record<string, unknown>> | null | undefined;
  readonly kind?: DocumentKind | undefined;
}

/** Settings shared by both forms of a request. All optional: absent (or undefined), the
 * server's default applies. */
export interface CompressionSettings {
  /** Text placed first in the prompt, kept verbatim. */
  readonly instruction?: string | undefined;
  /** The user's question, placed last, kept verbatim; it steers what is kept. */
  readonly question?: string | undefined;
  /** Kept fraction of the prompt's tokens, in (0, 1], or "auto". Ignored with target_tokens. */
  readonly target_ratio?: number | "auto" | undefined;
  /** Token budget for the whole compressed prompt (a positive integer). */
  readonly target_tokens?: number | undefined;
  /** What the budget counts (default "prompt"). */
  readonly budget_scope?: BudgetScope | undefined;
  /** The most relevant documents that keep at least their best sentence, even over budget. */
  readonly min_documents?: number | undefined;
  /** Literal strings that always survive wherever they occur. */
  readonly force_keep?: readonly string[] | undefined;
  /** Regular expressions (RE2 syntax on the server) whose matches always survive. */
  readonly force_keep_patterns?: readonly string[] | undefined;
  /** Units kept verbatim at the start of each document. */
  readonly preserve_first?: number | undefined;
  /** Units kept verbatim at the end of each document. */
  readonly preserve_last?: number | undefined;
  /** Never prune a word holding a digit from a kept unit. */
  readonly keep_digits?: boolean | undefined;
  /** Keep a sentence once: a repeat (or near repeat) of a kept one is dropped (default true). */
  readonly dedupe?: boolean | undefined;
  readonly reorder?: Reorder | undefined;
  readonly granularity?: Granularity | null | undefined;
  /** A compression policy the server knows (default "tersify"). */
  readonly policy?: string | undefined;
  /** A scorer the server allows; null or absent: the server's preset scorer. */
  readonly scorer?: string | null | undefined;
}

/** Documents to compress for a question: `contexts`, never together with `prompt`. */
export interface ContextsRequest extends CompressionSettings {
  readonly contexts: readonly (string | Document)[];
  readonly prompt?: never;
}

/** A whole prompt, compressed as one context: `prompt`, never together with `contexts`. */
export interface PromptRequest extends CompressionSettings {
  readonly prompt: string;
  readonly contexts?: never;
}

/** One compression: exactly one of `contexts` and `prompt`. */
export type CompressionRequest = ContextsRequest | PromptRequest;

/** What became of one input document. */
export interface DocumentResult {
  /** Position of the document in the request. */
  readonly index: number;
  readonly id: string | null;
  /** The compressed text. */
  readonly text: string;
  /** Whether anything of the document survived. */
  readonly kept: boolean;
  /** Kept character spans `[start, end)` into the original text, in order. */
  readonly spans: readonly (readonly [number, number])[];
  /** Relevance to the question in [0, 1] (1: the most relevant of the set). */
  readonly relevance: number;
  readonly original_tokens: number;
  readonly compressed_tokens: number;
  /** The document's metadata, echoed. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** Token and word counts of one compression, in the server's target tokenizer. */
export interface CompressionStats {
  readonly original_tokens: number;
  readonly compressed_tokens: number;
  /** The budget for the whole prompt. */
  readonly target_tokens: number;
  readonly original_words: number;
  readonly compressed_words: number;
  /** compressed_tokens / original_tokens. */
  readonly ratio: number;
  /** False only when the verbatim parts alone exceed the budget. */
  readonly budget_met: boolean;
  /** original_tokens / compressed_tokens. */
  readonly compression_factor: number;
}

/** The outcome of one compression. */
export interface CompressionResult {
  /** Instruction, compressed contexts and question, ready to send to the LLM. */
  readonly compressed_prompt: string;
  /** One entry per input document, in input order. */
  readonly documents: readonly DocumentResult[];
  readonly stats: CompressionStats;
  readonly policy: string;
  readonly scorer: string | null;
  readonly tokenizer: string;
  readonly duration_ms: number;
}
