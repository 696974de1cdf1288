import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { spawn } from "node:child_process";
import { createTestCertificate, type TestCertificate } from "../src/testing/tls.js";

export function testCertificate(): TestCertificate {
  const dir = process.env["KEYLESS_TEST_TLS_DIR"] ?? join(process.cwd(), ".tmp", "tls");
  return createTestCertificate(dir, ["sts.us-east-1.amazonaws.com", "login.microsoftonline.com"]);
}

export interface TestServer {
  url: string;
  port: number;
  server: Server;
  requests: IncomingMessage[];
  connections: number;
  close(): Promise<void>;
}

/** A loopback server that records each request and lets the test answer it. */
export async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void, tls?: TestCertificate): Promise<TestServer> {
  const requests: IncomingMessage[] = [];
  const server: Server = tls ? createTlsServer({ cert: tls.cert, key: tls.key }, (req, res) => (requests.push(req), handler(req, res))) : createServer((req, res) => (requests.push(req), handler(req, res)));
  const state = { connections: 0 };
  server.on(tls ? "secureConnection" : "connection", () => state.connections++);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    server,
    requests,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

export function distPath(file: string): string {
  const path = join(process.cwd(), "dist", file);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` first (npm test does).`);
  return path;
}

/** Runs the built `keyless` command as a subprocess (asynchronously: the emulators answer from this process). */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [distPath("cli.js"), ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}
