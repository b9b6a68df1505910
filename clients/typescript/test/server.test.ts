/** The client against a real `tersify serve` (see server.ts): every operation and error. */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import {
  ApiError,
  AuthenticationError,
  type CompressionResult,
  RateLimitError,
  TersifyClient,
} from "@tersify/client";

import {
  BUDGET_SCOPES,
  DOCUMENT_FIELDS,
  DOCUMENT_KINDS,
  GRANULARITIES,
  REORDERS,
  REQUEST_FIELDS,
} from "../dist/validate.js";
import { type Tersify, startTersify } from "./server.js";

const DOCS = [
  "Paris is the capital of France. It lies on the Seine.",
  "Berlin is the capital of Germany. It has many museums and lakes.",
  "Madrid is the capital of Spain.",
];
const QUESTION = "What is the capital of Germany?";

interface Schema {
  readonly enum?: string[];
  readonly anyOf?: Schema[];
}

function withoutDuration(result: CompressionResult): object {
  const { duration_ms: _, ...rest } = result;
  return rest;
}

describe("a real tersify server", () => {
  let server: Tersify;
  let client: TersifyClient;

  before(async () => {
    server = await startTersify();
    client = new TersifyClient({ baseUrl: server.url, apiKey: server.key });
  });
  after(async () => {
    await server?.stop();
  });

  it("knows exactly the request fields and choices of the server's OpenAPI", async () => {
    const openapi = await (await fetch(`${server.url}/openapi.json`)).json() as {
      components: { schemas: Record<string, { properties: Record<string, Schema> }> } };
    const { NativeRequest: request, NativeDocument: document } = openapi.components.schemas;
    assert.deepEqual(Object.keys(request!.properties).sort(), [...REQUEST_FIELDS].sort());
    assert.deepEqual(Object.keys(document!.properties).sort(), [...DOCUMENT_FIELDS].sort());
    assert.deepEqual(request!.properties["reorder"]!.enum, REORDERS);
    assert.deepEqual(request!.properties["granularity"]!.anyOf?.[0]?.enum, GRANULARITIES);
    assert.deepEqual(request!.properties["budget_scope"]!.enum, BUDGET_SCOPES);
    assert.deepEqual(document!.properties["kind"]!.enum, DOCUMENT_KINDS);
  });

  it("compresses contexts within a token budget, keeping the question", async () => {
    const result = await client.compress({ contexts: DOCS, question: QUESTION,
                                           target_tokens: 30, force_keep: ["Seine"] });
    assert.ok(result.compressed_prompt.endsWith(QUESTION));
    assert.ok(result.compressed_prompt.includes("Seine"));
    assert.ok(result.stats.compressed_tokens <= 30);
    assert.ok(result.stats.compressed_tokens < result.stats.original_tokens);
    assert.equal(result.stats.target_tokens, 30);
    assert.deepEqual(result.documents.map((d) => d.index), [0, 1, 2]);
    assert.equal(result.policy, "tersify");
    assert.equal(typeof result.tokenizer, "string");
  });

  it("echoes document ids and metadata; spans point into the original text", async () => {
    const contexts = DOCS.map((text, i) => ({ text, id: `doc-${i}`, metadata: { rank: i } }));
    const result = await client.compress({ contexts, question: QUESTION, target_ratio: 0.5,
                                           reorder: "relevance" });
    result.documents.forEach((doc, i) => {
      assert.equal(doc.id, `doc-${i}`);
      assert.deepEqual(doc.metadata, { rank: i });
      assert.equal(doc.kept, doc.spans.length > 0);
      for (const [start, end] of doc.spans) {
        assert.ok(doc.text.includes(DOCS[i]!.slice(start, end)));
      }
    });
    const germany = result.documents[1]!;
    assert.ok(result.documents.every((d) => d.relevance <= germany.relevance));
  });

  it("compresses a whole prompt as one document", async () => {
    const prompt = DOCS.join("\n\n");
    const result = await client.compress({ prompt, target_ratio: 0.6 });
    assert.equal(result.documents.length, 1);
    assert.ok(result.stats.compressed_tokens <= result.stats.target_tokens);
  });

  it("compresses a batch in order, as one call each would", async () => {
    const first = { contexts: DOCS, question: QUESTION, target_tokens: 30 };
    const second = { prompt: DOCS[0]!, target_ratio: "auto" as const };
    const many = await client.compressMany([first, second]);
    assert.equal(many.length, 2);
    assert.deepEqual(withoutDuration(many[0]!), withoutDuration(await client.compress(first)));
    assert.equal(many[1]!.documents.length, 1);
  });

  it("without a key: an AuthenticationError with the server's code and request id", async () => {
    const anonymous = new TersifyClient({ baseUrl: server.url });
    const error = await rejection(anonymous.compress({ contexts: DOCS, question: QUESTION }));
    assert.ok(error instanceof AuthenticationError);
    assert.equal(error.status, 401);
    assert.equal(error.code, "unauthorized");
    assert.match(error.message, /API key/);
    assert.match(error.requestId ?? "", /^[0-9a-f]{32}$/);
  });

  it("an unknown key: 401 too", async () => {
    const stranger = new TersifyClient({ baseUrl: server.url, apiKey: "tsk_live_nobody" });
    const error = await rejection(stranger.compress({ prompt: "text" }));
    assert.ok(error instanceof AuthenticationError);
    assert.equal(error.status, 401);
  });

  it("a request the server refuses: an ApiError with status 400 and its message", async () => {
    const error = await rejection(client.compress({ contexts: DOCS, policy: "no-such-policy" }));
    assert.ok(error instanceof ApiError && !(error instanceof AuthenticationError));
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid_request");
    assert.match(error.message, /policy/);
    assert.equal(error.retryAfter, null);
    assert.equal(typeof error.requestId, "string");
  });

  it("a scorer the server does not allow: 400 naming the batch item", async () => {
    const error = await rejection(client.compressMany([
      { prompt: "a" }, { prompt: "b", scorer: "lm" }]));
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 400);
    assert.match(error.message, /requests\.1\.scorer/);
  });

  it("past the key's rate limit: a RateLimitError with Retry-After", async () => {
    const limited = new TersifyClient({ baseUrl: server.url, apiKey: server.limitedKey });
    await limited.compress({ prompt: "one request is allowed" });
    const error = await rejection(limited.compress({ prompt: "the second is not" }));
    assert.ok(error instanceof RateLimitError);
    assert.equal(error.status, 429);
    assert.equal(error.code, "rate_limited");
    assert.ok(error.retryAfter !== null && error.retryAfter > 0 && error.retryAfter <= 3600);
  });
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error);
    return error;
  }
  assert.fail("expected a rejection");
}
