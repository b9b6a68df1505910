/**
 * A real `tersify serve` for the tests: a fresh SQLite database in a temporary folder, keys
 * made with `tersify keys create`, the server on a free local port. The Python that runs it is
 * `$TERSIFY_PYTHON` (the pytest wrapper passes its own interpreter), else `python3`.
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const PYTHON = process.env["TERSIFY_PYTHON"] || "python3";
const CLI = ["-m", "tersify.integrations.cli"];
const START_TIMEOUT_MS = 90_000;

export interface Tersify {
  readonly url: string;
  /** A key with the default rate limit. */
  readonly key: string;
  /** A key allowed one request an hour. */
  readonly limitedKey: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") {
    throw new Error("no port");
  }
  return address.port;
}

async function createKey(database: string, name: string, ...options: string[]):
  Promise<string> {
  const { stdout } = await promisify(execFile)(
    PYTHON, [...CLI, "keys", "--database-url", database, "create", name, ...options]);
  const secret = /^secret: (\S+)$/m.exec(stdout)?.[1];
  if (secret === undefined) {
    throw new Error(`tersify keys create printed no secret:\n${stdout}`);
  }
  return secret;
}

export async function startTersify(): Promise<Tersify> {
  const folder = await mkdtemp(join(tmpdir(), "tersify-ts-"));
  const database = `sqlite:///${join(folder, "keys.db")}`;
  const key = await createKey(database, "ts-client");
  const limitedKey = await createKey(database, "ts-limited", "--rate-limit", "1",
                                     "--window", "3600");
  const port = await freePort();
  const child = spawn(PYTHON, [...CLI, "serve", "--port", String(port), "--database-url",
                               database, "--workers", "1", "--engine-processes", "0"],
                      { cwd: folder, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => { log += chunk.toString(); });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await stopProcess(child);
    await rm(folder, { recursive: true, force: true });
  };
  try {
    await waitUntilHealthy(url, child, () => log);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, key, limitedKey, stop };
}

async function waitUntilHealthy(url: string, child: ChildProcess, log: () => string):
  Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`tersify serve exited with ${child.exitCode}:\n${log()}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`tersify serve did not answer within ${START_TIMEOUT_MS} ms:\n${log()}`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}
