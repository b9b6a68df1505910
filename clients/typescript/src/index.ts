/**
 * tersify's TypeScript client: compress an LLM prompt's context on a tersify server.
 *
 * ```ts
 * import { TersifyClient } from "@tersify/client";
 * const client = new TersifyClient({ baseUrl: "http://127.0.0.1:8000", apiKey: "tsk_live_..." });
 * const result = await client.compress({ contexts: docs, question, target_ratio: 0.25 });
 * ```
 */

export { DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS, ENDPOINT, TersifyClient } from "./client.js";
export type { CallOptions, ClientOptions } from "./client.js";
export {
  ApiError,
  AuthenticationError,
  ConnectionError,
  InvalidArgumentError,
  RateLimitError,
  RequestTimeoutError,
  TersifyError,
} from "./errors.js";
export type { ApiErrorDetails } from "./errors.js";
export type {
  BudgetScope,
  CompressionRequest,
  CompressionResult,
  CompressionSettings,
  CompressionStats,
  ContextsRequest,
  Document,
  DocumentKind,
  DocumentResult,
  Granularity,
  PromptRequest,
  Reorder,
} from "./types.js";
