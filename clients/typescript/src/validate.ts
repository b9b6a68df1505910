/**
 * Client-side checks of a request before it is sent. JavaScript callers have no compiler
 * between them and the wire, and the server refuses unknown fields: a typo (`targetRatio`,
 * `target_ration`) should fail here, naming the field, not cost a round trip. Only the rules
 * of the request itself are checked; the server's size limits are its own (and may change),
 * so it alone enforces them.
 */

import { InvalidArgumentError, isObject } from "./errors.js";
import type {
  BudgetScope,
  CompressionRequest,
  DocumentKind,
  Granularity,
  Reorder,
} from "./types.js";

// The server's choices and fields (its OpenAPI document; a test compares them).
export const REORDERS: readonly Reorder[] = ["original", "relevance", "edges"];
export const GRANULARITIES: readonly Granularity[] = ["word", "sentence", "document"];
export const BUDGET_SCOPES: readonly BudgetScope[] = ["prompt", "contexts"];
export const DOCUMENT_FIELDS = ["text", "id", "metadata", "kind"];
export const DOCUMENT_KINDS: readonly DocumentKind[] = ["auto", "text", "code"];

type Check = (value: unknown, name: string) => string | null;

const string: Check = (v) => (typeof v === "string" ? null : "must be a string");
const name: Check = (v) =>
  typeof v === "string" && v.length > 0 ? null : "must be a non-empty string";
const count: Check = (v) =>
  Number.isSafeInteger(v) && (v as number) >= 0 ? null : "must be an integer >= 0";
const strings: Check = (v, field) => {
  if (!Array.isArray(v)) {
    return "must be an array of non-empty strings";
  }
  const bad = v.findIndex((item) => typeof item !== "string" || item.length === 0);
  return bad < 0 ? null : `must hold only non-empty strings (${field}[${bad}] does not)`;
};
const oneOf = (choices: readonly string[], nullable: boolean): Check => (v) =>
  (nullable && v === null) || choices.includes(v as string)
    ? null
    : `must be one of ${choices.map((c) => JSON.stringify(c)).join(", ")}` +
      (nullable ? " or null" : "");

const FIELDS: ReadonlyMap<string, Check> = new Map(Object.entries({
  contexts: () => null, // checked by checkContexts
  prompt: string,
  instruction: string,
  question: string,
  target_ratio: (v) =>
    v === "auto" || (typeof v === "number" && v > 0 && v <= 1)
      ? null
      : 'must be a number in (0, 1] or "auto"',
  target_tokens: (v) =>
    v === null || (Number.isSafeInteger(v) && (v as number) >= 1)
      ? null
      : "must be a positive integer",
  budget_scope: oneOf(BUDGET_SCOPES, false),
  min_documents: count,
  force_keep: strings,
  force_keep_patterns: strings,
  preserve_first: count,
  preserve_last: count,
  keep_digits: (v) => (typeof v === "boolean" ? null : "must be true or false"),
  dedupe: (v) => (typeof v === "boolean" ? null : "must be true or false"),
  reorder: oneOf(REORDERS, false),
  granularity: oneOf(GRANULARITIES, true),
  policy: name,
  scorer: (v: unknown, field: string) => (v === null ? null : name(v, field)),
} satisfies Record<string, Check>)); // a Map: no inherited keys ("toString") pass as fields

export const REQUEST_FIELDS = [...FIELDS.keys()];

/** `request` as the JSON body to send, or an `InvalidArgumentError` naming what is wrong. */
export function checkedRequest(request: CompressionRequest, where = "request"): object {
  if (!isObject(request)) {
    throw new InvalidArgumentError(where, "must be an object with contexts or prompt");
  }
  const body: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(request)) {
    const check = FIELDS.get(field);
    if (check === undefined) {
      throw new InvalidArgumentError(`${where}.${field}`,
        `unknown field; valid: ${REQUEST_FIELDS.join(", ")}`);
    }
    if (value === undefined) {
      continue; // absent: the server's default
    }
    const problem = check(value, field);
    if (problem !== null) {
      throw new InvalidArgumentError(`${where}.${field}`, problem);
    }
    body[field] = value;
  }
  const hasContexts = body["contexts"] !== undefined;
  if (hasContexts === (body["prompt"] !== undefined)) {
    throw new InvalidArgumentError(where, "give exactly one of contexts and prompt");
  }
  if (hasContexts) {
    checkContexts(body["contexts"], `${where}.contexts`);
  }
  return body;
}

function checkContexts(contexts: unknown, where: string): void {
  if (!Array.isArray(contexts) || contexts.length === 0) {
    throw new InvalidArgumentError(where, "must be a non-empty array of strings or documents");
  }
  contexts.forEach((entry: unknown, i) => {
    if (typeof entry !== "string") {
      checkDocument(entry, `${where}[${i}]`);
    }
  });
}

function checkDocument(entry: unknown, where: string): void {
  if (!isObject(entry)) {
    throw new InvalidArgumentError(where,
      "must be a string or a {text, id, metadata, kind} object");
  }
  const unknown = Object.keys(entry).filter((key) => !DOCUMENT_FIELDS.includes(key));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`${where}.${unknown[0]}`,
      `unknown field; valid: ${DOCUMENT_FIELDS.join(", ")}`);
  }
  if (typeof entry["text"] !== "string") {
    throw new InvalidArgumentError(`${where}.text`, "must be a string");
  }
  const id = entry["id"];
  if (id !== undefined && id !== null && typeof id !== "string") {
    throw new InvalidArgumentError(`${where}.id`, "must be a string or null");
  }
  const metadata = entry["metadata"];
  if (metadata !== undefined && metadata !== null && !isObject(metadata)) {
    throw new InvalidArgumentError(`${where}.metadata`, "must be an object or null");
  }
  const kind = entry["kind"];
  if (kind !== undefined && !DOCUMENT_KINDS.includes(kind as DocumentKind)) {
    throw new InvalidArgumentError(`${where}.kind`,
      `must be one of ${DOCUMENT_KINDS.map((k) => JSON.stringify(k)).join(", ")}`);
  }
}

/** `requests` as the body of a batch, every one checked (errors name `requests[i]`). */
export function checkedBatch(requests: readonly CompressionRequest[]): object {
  if (!Array.isArray(requests) || requests.length === 0) {
    throw new InvalidArgumentError("requests", "must be a non-empty array of requests");
  }
  return { requests: requests.map((r, i) => checkedRequest(r, `requests[${i}]`)) };
}
