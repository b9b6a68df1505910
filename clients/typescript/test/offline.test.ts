/**
 * What the client does without a tersify server in front of it: arguments refused before
 * anything is sent, a server that never answers (timeouts, the caller's abort), nothing
 * listening, and a proxy answering in its own words.
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { after, before, describe, it } from "node:test";

import {
  ApiError,
  type CompressionRequest,
  ConnectionError,
  InvalidArgumentError,
  RequestTimeoutError,
  TersifyClient,
} from "@tersify/client";

import { freePort } from "./server.js";

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

async function listen(handler: Handler): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return { server, url: `http://127.0.0.1:${address.port}` };
}

describe("arguments refused before sending", () => {
  const sent: unknown[] = [];
  const client = new TersifyClient({
    fetch: async (...args) => { sent.push(args); return new Response("{}"); } });
  const cases: [string, unknown, RegExp][] = [
    ["a typo", { prompt: "p", targetRatio: 0.5 }, /^request\.targetRatio: unknown field/],
    ["an inherited name", { prompt: "p", toString: 1 }, /^request\.toString: unknown field/],
    ["both forms", { prompt: "p", contexts: ["c"] }, /exactly one of contexts and prompt/],
    ["neither form", { question: "q" }, /exactly one of contexts and prompt/],
    ["no contexts", { contexts: [] }, /^request\.contexts: must be a non-empty array/],
    ["a ratio over 1", { prompt: "p", target_ratio: 1.5 }, /^request\.target_ratio: /],
    ["NaN ratio", { prompt: "p", target_ratio: Number.NaN }, /target_ratio/],
    ["fractional tokens", { prompt: "p", target_tokens: 2.5 }, /positive integer/],
    ["a bad document", { contexts: ["ok", { text: 1 }] }, /^request\.contexts\[1\]\.text: /],
    ["a document's typo", { contexts: [{ text: "t", meta: {} }] }, /contexts\[0\]\.meta: /],
    ["an empty force_keep", { prompt: "p", force_keep: [""] }, /force_keep\[0\]/],
    ["a bad reorder", { prompt: "p", reorder: "random" }, /"original", "relevance", "edges"/],
    ["a string for a count", { prompt: "p", preserve_first: "1" }, /integer >= 0/],
    ["not JSON", { contexts: [{ text: "t", metadata: { n: 1n } }] }, /cannot be written as JSON/],
  ];
  for (const [what, request, message] of cases) {
    it(what, async () => {
      await assert.rejects(client.compress(request as CompressionRequest),
                           (e: unknown) => e instanceof InvalidArgumentError &&
                             message.test(e.message));
    });
  }

  it("in a batch, naming the request", async () => {
    await assert.rejects(client.compressMany([{ prompt: "p" }, { prompt: 3 } as never]),
                         /^InvalidArgumentError: requests\[1\]\.prompt: must be a string/);
    await assert.rejects(client.compressMany([]), /requests: must be a non-empty array/);
  });

  it("sends nothing", () => assert.equal(sent.length, 0));

  it("bad client options", () => {
    assert.throws(() => new TersifyClient({ baseUrl: "ftp://x" }), /baseUrl: must be an http/);
    assert.throws(() => new TersifyClient({ baseUrl: "not a url" }), /baseUrl: not a URL/);
    assert.throws(() => new TersifyClient({ timeoutMs: 0 }), InvalidArgumentError);
    assert.throws(() => new TersifyClient({ apiKey: " " }), /apiKey: must be a non-empty/);
  });
});

describe("what is sent", () => {
  it("the wire JSON to <baseUrl>/v1/tersify with the key; undefined fields left out", async () => {
    const calls: [string, RequestInit][] = [];
    const result = { compressed_prompt: "c", documents: [], stats: {} };
    const client = new TersifyClient({
      baseUrl: "https://tersify.example/", apiKey: "tsk_live_k",
      fetch: async (url, init) => {
        calls.push([String(url), init ?? {}]);
        return new Response(JSON.stringify(result), { status: 200 });
      } });
    const answer = await client.compress({ contexts: ["a", { text: "b", id: null }],
                                           target_tokens: undefined, question: "q" });
    assert.deepEqual(answer, result);
    const [url, init] = calls[0]!;
    assert.equal(url, "https://tersify.example/v1/tersify");
    assert.equal(init.method, "POST");
    assert.deepEqual(JSON.parse(String(init.body)),
                     { contexts: ["a", { text: "b", id: null }], question: "q" });
    assert.deepEqual(init.headers, { "content-type": "application/json",
                                     accept: "application/json", "x-api-key": "tsk_live_k" });
  });
});

describe("a server that never answers", () => {
  let hanging: Server;
  let url: string;
  before(async () => {
    ({ server: hanging, url } = await listen(() => { /* never answers */ }));
  });
  after(() => {
    hanging.closeAllConnections();
    hanging.close();
  });

  it("times out after timeoutMs with a RequestTimeoutError", async () => {
    const client = new TersifyClient({ baseUrl: url, timeoutMs: 200 });
    const started = Date.now();
    await assert.rejects(client.compress({ prompt: "p" }),
                         (e: unknown) => e instanceof RequestTimeoutError && e.timeoutMs === 200);
    const waited = Date.now() - started;
    assert.ok(waited >= 190 && waited < 5_000, `waited ${waited} ms`);
  });

  it("a call's own timeout wins over the client's", async () => {
    const client = new TersifyClient({ baseUrl: url, timeoutMs: 60_000 });
    await assert.rejects(client.compressMany([{ prompt: "p" }], { timeoutMs: 100 }),
                         RequestTimeoutError);
  });

  it("the caller's signal aborts it with the signal's reason", async () => {
    const client = new TersifyClient({ baseUrl: url });
    const controller = new AbortController();
    const reason = new Error("user gave up");
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(client.compress({ prompt: "p" }, { signal: controller.signal }),
                         (e: unknown) => e === reason);
    await assert.rejects(client.compress({ prompt: "p" }, { signal: controller.signal }),
                         (e: unknown) => e === reason); // already aborted: not even sent
  });
});

describe("answers that are not tersify's", () => {
  it("nothing listening: a ConnectionError", async () => {
    const client = new TersifyClient({ baseUrl: `http://127.0.0.1:${await freePort()}` });
    await assert.rejects(client.compress({ prompt: "p" }),
                         (e: unknown) => e instanceof ConnectionError &&
                           /unreachable/.test(e.message));
  });

  it("a proxy's plain-text 502: an ApiError with its text and Retry-After", async () => {
    const { server, url } = await listen((_, response) => {
      response.writeHead(502, { "content-type": "text/plain", "retry-after": "7" });
      response.end("Bad Gateway from the proxy");
    });
    try {
      const error = await new TersifyClient({ baseUrl: url }).compress({ prompt: "p" })
        .then(() => assert.fail("no error"), (e: unknown) => e);
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 502);
      assert.equal(error.code, null);
      assert.equal(error.message, "502: Bad Gateway from the proxy");
      assert.equal(error.retryAfter, 7);
    } finally {
      server.close();
    }
  });

  it("a 200 that is not a result: a TersifyError, not a silent bad value", async () => {
    const client = new TersifyClient({ fetch: async () => new Response('{"ok": true}') });
    await assert.rejects(client.compress({ prompt: "p" }), /not a compression result/);
    const html = new TersifyClient({ fetch: async () => new Response("<html>") });
    await assert.rejects(html.compress({ prompt: "p" }), /not JSON/);
  });
});
