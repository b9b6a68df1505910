/**
 * The errors of the client. Every one is a `TersifyError`, so one `catch` can take them all;
 * the subclasses say what went wrong without parsing messages:
 *
 * - `InvalidArgumentError`: rejected before anything was sent (a typo, a wrong type);
 * - `ApiError`: the server answered with an error status (`AuthenticationError` for 401/403,
 *   `RateLimitError` for 429), carrying the status and the server's error code and message;
 * - `ConnectionError`: the server could not be reached or its answer could not be read;
 * - `RequestTimeoutError`: no complete answer within the client's timeout.
 */

/** The base of every error this client throws. */
export class TersifyError extends Error {
  override name = "TersifyError";
}

/** An argument rejected before the request was sent; `argument` names it (`contexts[2].id`). */
export class InvalidArgumentError extends TersifyError {
  override name = "InvalidArgumentError";
  readonly argument: string;

  constructor(argument: string, problem: string) {
    super(`${argument}: ${problem}`);
    this.argument = argument;
  }
}

/** What the server said about a failed request. */
export interface ApiErrorDetails {
  /** The HTTP status (400, 401, 413, 429, 500, 503, 504, ...). */
  readonly status: number;
  /** The server's error type (`invalid_request`, `unauthorized`, `rate_limited`, ...), or null
   * when the body was not tersify's error shape (a proxy's page, say). */
  readonly code: string | null;
  readonly message: string;
  /** The server's id of the request, for its logs; null when it gave none. */
  readonly requestId: string | null;
  /** Seconds to wait before retrying, from `Retry-After` (429 and 503); else null. */
  readonly retryAfter: number | null;
}

/** The server answered with an error status. */
export class ApiError extends TersifyError implements ApiErrorDetails {
  override name = "ApiError";
  readonly status: number;
  readonly code: string | null;
  readonly requestId: string | null;
  readonly retryAfter: number | null;

  constructor(details: ApiErrorDetails) {
    super(`${details.status}${details.code ? ` ${details.code}` : ""}: ${details.message}`);
    this.status = details.status;
    this.code = details.code;
    this.requestId = details.requestId;
    this.retryAfter = details.retryAfter;
  }
}

/** The server refused the API key: missing, unknown or revoked (401), or not allowed (403). */
export class AuthenticationError extends ApiError {
  override name = "AuthenticationError";
}

/** Too many requests for this key; `retryAfter` says when the window frees up. */
export class RateLimitError extends ApiError {
  override name = "RateLimitError";
}

/** The server could not be reached, or the connection failed before a whole answer came. */
export class ConnectionError extends TersifyError {
  override name = "ConnectionError";
}

/** No complete answer within `timeoutMs` milliseconds; the request was abandoned. */
export class RequestTimeoutError extends TersifyError {
  override name = "RequestTimeoutError";
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** The error for a response with an error status (its body is read here). */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  const text = await response.text();
  const details: ApiErrorDetails = {
    status: response.status,
    ...parseErrorBody(text, response.statusText),
    retryAfter: parseRetryAfter(response.headers.get("retry-after")),
  };
  if (response.status === 401 || response.status === 403) {
    return new AuthenticationError(details);
  }
  return response.status === 429 ? new RateLimitError(details) : new ApiError(details);
}

type BodyDetails = Pick<ApiErrorDetails, "code" | "message" | "requestId">;

/** tersify's `{"error": {type, message, request_id}}`, else whatever answered instead. */
export function parseErrorBody(text: string, statusText: string): BodyDetails {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = isObject(body) ? body["error"] : undefined;
  if (isObject(error) && typeof error["message"] === "string" && error["message"]) {
    return {
      code: typeof error["type"] === "string" ? error["type"] : null,
      message: error["message"],
      requestId: typeof error["request_id"] === "string" ? error["request_id"] : null,
    };
  }
  if (typeof error === "string" && error) {
    return { code: null, message: error, requestId: null };
  }
  return { code: null, message: text.trim().slice(0, 500) || statusText || "no message",
           requestId: null };
}

/** Seconds from `Retry-After`: a number, or an HTTP date (a proxy's); null if neither. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value?.trim()) {
    return null;
  }
  const seconds = /^\s*\d+(\.\d+)?\s*$/.test(value)
    ? Number(value)
    : (Date.parse(value) - now) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, seconds) : null;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
