/**
 * @module testing/azurite
 * Starts azurite's Blob service (an optional peer dependency) over https with `--oauth basic`,
 * so Azure Storage clients authenticate with bearer tokens from the emulated Entra.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestCertificate } from "./tls.js";

export interface AzuriteOptions {
  /** Certificate azurite serves (bearer tokens need https on both sides). */
  tls: TestCertificate;
  /** Milliseconds to wait for azurite to listen. Default 60000. */
  startTimeoutMs?: number;
  /** Called with progress lines while waiting (e.g. to print on stderr). */
  onProgress?: (line: string) => void;
}

export interface RunningAzurite {
  /** Blob service URL of the dev account: `https://127.0.0.1:PORT/devstoreaccount1`. */
  blobUrl: string;
  port: number;
  close(): Promise<void>;
}

function resolveAzurite(): string {
  for (const base of [join(process.cwd(), "noop.js"), __keylessModuleUrl()]) {
    try {
      return createRequire(base).resolve("azurite/dist/src/blob/main.js");
    } catch {
      // try the next place
    }
  }
  throw new Error("azurite is not installed: npm install --save-dev azurite");
}

function __keylessModuleUrl(): string {
  // Works in both builds: the ESM one has import.meta.url, the CommonJS one __filename.
  return typeof __filename === "string" ? __filename : join(process.cwd(), "noop.js");
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts azurite-blob on a free loopback port with in-memory storage. */
export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  const main = resolveAzurite();
  const port = await freePort();
  const location = mkdtempSync(join(tmpdir(), "keyless-azurite-"));
  const child: ChildProcess = spawn(
    process.execPath,
    [main, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--oauth", "basic", "--cert", options.tls.certFile, "--key", options.tls.keyFile, "--inMemoryPersistence", "--extentMemoryLimit", "256", "--skipApiVersionCheck", "--disableTelemetry", "--loose"],
    { stdio: ["ignore", "pipe", "pipe"], cwd: location, env: { ...process.env, AZURITE_ACCOUNTS: undefined } },
  );
  let output = "";
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const timeout = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`azurite did not start within ${options.startTimeoutMs ?? 60_000} ms: ${output.slice(-500)}`));
    }, options.startTimeoutMs ?? 60_000);
    const progress = setInterval(() => options.onProgress?.(`waiting for azurite (${Math.round((Date.now() - started) / 1000)} s)`), 2_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/successfully listen/.test(output)) {
        clearTimeout(timeout);
        clearInterval(progress);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timeout);
      clearInterval(progress);
      reject(new Error(`azurite exited with code ${code}: ${output.slice(-500)}`));
    });
  });
  child.removeAllListeners("exit");
  return {
    blobUrl: `https://127.0.0.1:${port}/devstoreaccount1`,
    port,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(location, { recursive: true, force: true });
    },
  };
}
