/**
 * The client: a tersify server's native endpoint `POST /v1/tersify` as two async methods, the
 * same operations as the Python client (`tersify.integrations.client.TersifyClient`).
 *
 * It uses the platform's `fetch` (Node >= 18, or any runtime that has one) and nothing else.
 * Like the Python client it never retries on its own: whether a request may be repeated (it is
 * billed once served) is the caller's call, and `RateLimitError.retryAfter` says when.
 */

import {
  ConnectionError,
  InvalidArgumentError,
  RequestTimeoutError,
  TersifyError,
  errorFromResponse,
  isObject,
} from "./errors.js";
import type { CompressionRequest, CompressionResult } from "./types.js";
import { checkedBatch, checkedRequest } from "./validate.js";

export const ENDPOINT = "/v1/tersify";
export const DEFAULT_BASE_URL = "http://127.0.0.1:8000";
export const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_TIMEOUT_MS = 2_147_483_647; // setTimeout's limit (about 24.8 days)

export interface ClientOptions {
  /** The server, e.g. `https://tersify.example.com` (default `http://127.0.0.1:8000`). */
  readonly baseUrl?: string | undefined;
  /** Sent as `X-API-Key`. */
  readonly apiKey?: string | undefined;
  /** Milliseconds for a whole request, answer included (default 60,000). */
  readonly timeoutMs?: number | undefined;
  /** A `fetch` to use instead of the global one (a proxy agent, instrumentation). */
  readonly fetch?: typeof globalThis.fetch | undefined;
}

export interface CallOptions {
  /** Abandons the request when aborted: the call rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** This call's timeout in milliseconds, instead of the client's. */
  readonly timeoutMs?: number | undefined;
}

/** A tersify server as a compressor. */
export class TersifyClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #fetch: typeof globalThis.fetch;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = checkedBaseUrl(options.baseUrl ?? DEFAULT_BASE_URL);
    this.timeoutMs = checkedTimeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, "timeoutMs");
    const { apiKey } = options;
    if (apiKey !== undefined && (typeof apiKey !== "string" || apiKey.trim() === "")) {
      throw new InvalidArgumentError("apiKey", "must be a non-empty string");
    }
    this.#headers = {
      "content-type": "application/json",
      accept: "application/json",
      ...(apiKey === undefined ? {} : { "x-api-key": apiKey }),
    };
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== "function") {
      throw new InvalidArgumentError("fetch",
        "no global fetch here (Node >= 18 has one): pass one");
    }
    this.#fetch = fetchImpl;
  }

  /** Compress one request on the server. */
  async compress(request: CompressionRequest, options: CallOptions = {}):
    Promise<CompressionResult> {
    const answer = await this.#post(checkedRequest(request), options);
    if (!isResult(answer)) {
      throw new TersifyError("the server's answer is not a compression result");
    }
    return answer;
  }

  /** Compress several requests in one call; the results in the same order. */
  async compressMany(requests: readonly CompressionRequest[], options: CallOptions = {}):
    Promise<CompressionResult[]> {
    const answer = await this.#post(checkedBatch(requests), options);
    const results = isObject(answer) ? answer["results"] : undefined;
    if (!Array.isArray(results) || results.length !== requests.length ||
        !results.every(isResult)) {
      throw new TersifyError(`the server's answer is not ${requests.length} compression results`);
    }
    return results;
  }

  /** The parsed JSON of a 2xx answer to `body`, else the matching error. */
  async #post(body: object, options: CallOptions): Promise<unknown> {
    const json = serialized(body);
    const timeoutMs = checkedTimeout(options.timeoutMs ?? this.timeoutMs, "timeoutMs");
    const { signal } = options;
    signal?.throwIfAborted();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new RequestTimeoutError(timeoutMs)), timeoutMs);
    const forward = (): void => controller.abort(signal?.reason);
    signal?.addEventListener("abort", forward, { once: true });
    try {
      const fetchImpl = this.#fetch; // called unbound: a browser's fetch refuses another `this`
      const response = await fetchImpl(this.baseUrl + ENDPOINT, {
        method: "POST", headers: this.#headers, body: json, signal: controller.signal });
      if (!response.ok) {
        throw await errorFromResponse(response);
      }
      return JSON.parse(await response.text()) as unknown;
    } catch (error) {
      throw this.#failure(error, controller.signal);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", forward);
    }
  }

  /** What to throw for `error`: the abort's reason (the timeout's or the caller's), the
   * client's own errors as they are, anything else as a ConnectionError. */
  #failure(error: unknown, signal: AbortSignal): unknown {
    if (signal.aborted) {
      return signal.reason;
    }
    if (error instanceof TersifyError) {
      return error;
    }
    if (error instanceof SyntaxError) {
      return new TersifyError(`the server's answer is not JSON: ${error.message}`);
    }
    const cause = error instanceof Error ? error.cause : undefined;
    const reason = cause instanceof Error ? cause.message : String(error);
    return new ConnectionError(`${this.baseUrl} unreachable: ${reason}`, { cause: error });
  }

  toString(): string {
    return `TersifyClient(${this.baseUrl})`;
  }
}

function checkedBaseUrl(value: unknown): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new InvalidArgumentError("baseUrl", `not a URL: ${JSON.stringify(value)}`);
  }
  if (typeof value !== "string" || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new InvalidArgumentError("baseUrl", `must be an http(s) URL, got ${String(value)}`);
  }
  if (url.search || url.hash) {
    throw new InvalidArgumentError("baseUrl", "must not have a query or fragment");
  }
  return value.replace(/\/+$/, "");
}

function checkedTimeout(value: unknown, name: string): number {
  if (typeof value !== "number" || !(value > 0 && value <= MAX_TIMEOUT_MS)) {
    throw new InvalidArgumentError(name,
      `must be a number of milliseconds in (0, ${MAX_TIMEOUT_MS}]`);
  }
  return value;
}

function serialized(body: object): string {
  try {
    return JSON.stringify(body);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidArgumentError("request", `cannot be written as JSON: ${reason}`);
  }
}

function isResult(value: unknown): value is CompressionResult {
  return isObject(value) && typeof value["compressed_prompt"] === "string" &&
    Array.isArray(value["documents"]) && isObject(value["stats"]);
}
