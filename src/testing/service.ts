/**
 * @module testing/service
 * The loopback server every emulated endpoint runs on: routing by endpoint name, per-endpoint
 * request counters, injectable latency and scripted faults.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { performance } from "node:perf_hooks";

/** What a route handler sees. */
export interface EmulatedRequest {
  method: string;
  url: URL;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

/** What a route handler answers. */
export interface EmulatedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** A route: an endpoint name (for counters and faults) and its handler. */
export interface Route {
  endpoint: string;
  match: (req: EmulatedRequest) => boolean;
  handle: (req: EmulatedRequest) => EmulatedResponse | Promise<EmulatedResponse>;
}

/** A scripted misbehaviour for one endpoint. */
export interface Fault {
  /** Answer with this status (and `body`, `headers`) instead of the real handler. */
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** Wait this many milliseconds before answering (or before misbehaving). */
  delayMs?: number;
  /** Destroy the connection before any answer. */
  reset?: boolean;
  /** Send headers and part of the real body, then destroy the connection. */
  truncate?: boolean;
  /** Never answer. */
  hang?: boolean;
  /** Send headers, then stall the body forever. */
  stallBody?: boolean;
  /** Answer 200 with a body of this many bytes. */
  oversizeBytes?: number;
  /** Answer 302 to this location. */
  redirectTo?: string;
  /** How many requests this fault applies to. Default 1; `Infinity` until cleared. */
  times?: number;
}

/** Counters, latency and faults shared by every emulated service. */
export class Instrumentation {
  readonly #counts = new Map<string, number>();
  readonly #faults = new Map<string, Fault[]>();
  /** Added before every answer, milliseconds. */
  latencyMs = 0;
  /** Probability in [0, 1] of a random 503 on any endpoint (soak tests). */
  randomFaultRate = 0;
  random: () => number = Math.random;
  /** When set, each request's endpoint and real start/end times (`performance.now()`) are appended here. */
  timeline: Array<{ endpoint: string; start: number; end: number }> | undefined;

  /** Requests seen by `endpoint` (exact name, or a prefix ending in `.`, or `*` for all). */
  count(endpoint = "*"): number {
    let total = 0;
    for (const [name, n] of this.#counts) if (endpoint === "*" || name === endpoint || (endpoint.endsWith(".") && name.startsWith(endpoint))) total += n;
    return total;
  }

  /** Every counter, by endpoint. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }

  resetCounts(): void {
    this.#counts.clear();
  }

  /** Queues a fault for `endpoint` (exact name or a prefix ending in `.`). */
  inject(endpoint: string, fault: Fault): void {
    const list = this.#faults.get(endpoint) ?? [];
    list.push({ times: 1, ...fault });
    this.#faults.set(endpoint, list);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /** @internal */
  record(endpoint: string): void {
    this.#counts.set(endpoint, (this.#counts.get(endpoint) ?? 0) + 1);
  }

  /** @internal */
  takeFault(endpoint: string): Fault | undefined {
    for (const [key, list] of this.#faults) {
      if (key !== endpoint && !(key.endsWith(".") && endpoint.startsWith(key))) continue;
      const fault = list[0];
      if (fault === undefined) continue;
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) list.shift();
      return fault;
    }
    if (this.randomFaultRate > 0 && this.random() < this.randomFaultRate) return { status: 503, body: "injected random fault" };
    return undefined;
  }
}

/** A running loopback server. */
export interface RunningService {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  host: string;
  close(): Promise<void>;
}

/** Starts a loopback server for `routes`. Unmatched requests get 404. */
export async function startService(
  name: string,
  routes: readonly Route[],
  instrumentation: Instrumentation,
  tls?: { cert: string; key: string },
): Promise<RunningService> {
  const sockets = new Set<Socket>();
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void dispatch(name, routes, instrumentation, req, Buffer.concat(chunks), res, tls !== undefined);
    });
  };
  const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest) : createHttpServer(onRequest);
  server.keepAliveTimeout = 5_000;
  server.on(tls ? "secureConnection" : "connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  return {
    url: `${tls ? "https" : "http"}://${host}`,
    host,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function dispatch(service: string, routes: readonly Route[], inst: Instrumentation, req: IncomingMessage, body: Buffer, res: ServerResponse, secure: boolean): Promise<void> {
  const url = new URL(req.url ?? "/", `${secure ? "https" : "http"}://${req.headers.host ?? "localhost"}`);
  const request: EmulatedRequest = { method: req.method ?? "GET", url, headers: req.headers, body };
  const route = routes.find((r) => r.match(request));
  const endpoint = route?.endpoint ?? `${service}.unknown`;
  inst.record(endpoint);
  if (inst.timeline !== undefined) {
    const entry = { endpoint, start: performance.now(), end: Number.NaN };
    inst.timeline.push(entry);
    res.once("finish", () => (entry.end = performance.now()));
  }
  if (inst.latencyMs > 0) await delay(inst.latencyMs);
  const fault = inst.takeFault(endpoint);
  try {
    if (fault !== undefined) {
      if (fault.delayMs) await delay(fault.delayMs);
      if (fault.hang) return;
      if (fault.reset) {
        req.socket.destroy();
        return;
      }
      if (fault.stallBody) {
        res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
        res.write("{");
        return;
      }
      if (fault.oversizeBytes !== undefined) {
        res.writeHead(200, { "content-type": "application/json" });
        const chunk = Buffer.alloc(65_536, 0x20);
        for (let sent = 0; sent < fault.oversizeBytes; sent += chunk.length) if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
        res.end();
        return;
      }
      if (fault.redirectTo !== undefined) {
        res.writeHead(302, { location: fault.redirectTo });
        res.end();
        return;
      }
      if (fault.status !== undefined) {
        res.writeHead(fault.status, { "content-type": "text/plain", ...fault.headers });
        res.end(fault.body ?? "");
        return;
      }
    }
    const answer: EmulatedResponse = route ? await route.handle(request) : { status: 404, body: `no such endpoint: ${request.method} ${url.pathname}` };
    const payload = answer.body === undefined ? Buffer.alloc(0) : Buffer.from(answer.body);
    if (fault?.truncate) {
      res.writeHead(answer.status, { ...answer.headers, "content-length": String(payload.length + 100) });
      res.write(payload.subarray(0, Math.floor(payload.length / 2)));
      setImmediate(() => req.socket.destroy());
      return;
    }
    res.writeHead(answer.status, { ...answer.headers, "content-length": String(payload.length) });
    res.end(payload);
  } catch (error) {
    if (!res.headersSent) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`emulator error in ${endpoint}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Escapes text for XML element content. */
export function xmlEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** A JSON answer. */
export function json(status: number, value: unknown, headers: Record<string, string> = {}): EmulatedResponse {
  return { status, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(value) };
}
