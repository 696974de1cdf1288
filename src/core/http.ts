/**
 * @module core/http
 * The one HTTP transport keyless uses, over `node:http`/`node:https` with keep-alive agents (idle
 * sockets are unref'd by Node's agent, so they never keep a process alive): connect and total
 * timeouts, a response size cap, no redirects, proxies from the environment, and one endpoint policy.
 */
import * as http from "node:http";
import * as https from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { isIP } from "node:net";
import { abortError, KeylessError } from "./errors.js";

/** Transport settings a user can pass to any keyless credential. */
export interface TransportOptions {
  /** Milliseconds to establish a connection (TCP and TLS). Default 3000. */
  connectTimeoutMs?: number;
  /** Milliseconds for a whole request, from start to last byte. Default 10000. */
  timeoutMs?: number;
  /** Largest response body accepted, in bytes. Default 1048576 (1 MiB). */
  maxResponseBytes?: number;
  /** Extra trusted CA certificates (PEM) for https endpoints, e.g. a private endpoint's or the emulated clouds'. */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** An agent to use instead of keyless's keep-alive agents and proxy handling. */
  agent?: http.Agent;
}

export interface HttpRequest extends TransportOptions {
  url: string | URL;
  /** Default GET. */
  method?: string;
  headers?: Readonly<Record<string, string>>;
  body?: string | Buffer;
  /** Step named in errors, e.g. `gcp-metadata`. */
  step: string;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The upstream's `Date` header, epoch milliseconds, for clock-skew detection. */
  date: number | undefined;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 1_048_576;

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });

const METADATA_HOSTS = new Set([
  "169.254.169.254", // EC2 IMDS, Azure IMDS, GCE metadata
  "169.254.170.2", // ECS container credentials
  "169.254.170.23", // EKS Pod Identity
  "fd00:ec2::254", // EC2 IMDS over IPv6
  "fd00:ec2::23", // EKS Pod Identity over IPv6
  "metadata.google.internal",
  "metadata",
]);

function bareHost(hostname: string): string {
  return hostname.replace(/^\[|\]$/g, "").toLowerCase();
}

/** Loopback: `localhost`, 127.0.0.0/8, ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const host = bareHost(hostname);
  if (host === "localhost" || host.endsWith(".localhost") || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

/** The link-local and internal names of the clouds' metadata services. */
export function isMetadataHost(hostname: string): boolean {
  return METADATA_HOSTS.has(bareHost(hostname));
}

/**
 * The endpoint policy, in one place: https everywhere, except plain http to loopback and to the
 * metadata addresses (which only ever speak http). Throws `ERR_ENDPOINT_NOT_ALLOWED`.
 */
export function assertEndpointAllowed(url: string | URL, step: string): URL {
  let parsed: URL;
  try {
    parsed = typeof url === "string" ? new URL(url) : url;
  } catch (cause) {
    throw new KeylessError("ERR_CONFIG", `Not a valid URL: ${JSON.stringify(String(url).slice(0, 200))}.`, { step, cause });
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new KeylessError("ERR_ENDPOINT_NOT_ALLOWED", `The endpoint ${parsed.host} carries credentials in its URL.`, {
      step,
      hint: "Remove the user name and password from the URL.",
    });
  }
  if (parsed.protocol === "https:") return parsed;
  if (parsed.protocol === "http:" && (isLoopbackHost(parsed.hostname) || isMetadataHost(parsed.hostname))) return parsed;
  throw new KeylessError("ERR_ENDPOINT_NOT_ALLOWED", `Refusing ${parsed.protocol}//${parsed.host}: keyless sends credentials only over https (plain http only to loopback and the metadata addresses).`, {
    step,
    hint: "Use an https URL for this endpoint.",
  });
}

/** `scheme://host[:port]/path` with no query string: safe to print. */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function proxyFor(url: URL): string | undefined {
  if (isLoopbackHost(url.hostname) || isMetadataHost(url.hostname)) return undefined;
  const env = process.env;
  const proxy = url.protocol === "https:" ? env["HTTPS_PROXY"] ?? env["https_proxy"] : env["HTTP_PROXY"] ?? env["http_proxy"];
  if (proxy === undefined || proxy === "") return undefined;
  const noProxy = env["NO_PROXY"] ?? env["no_proxy"] ?? "";
  const host = bareHost(url.hostname);
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  for (const raw of noProxy.split(/[\s,]+/)) {
    const rule = raw.trim().toLowerCase();
    if (rule === "") continue;
    if (rule === "*") return undefined;
    const [ruleHost = "", rulePort] = rule.startsWith("[") ? [rule.slice(1, rule.indexOf("]")), rule.split("]:")[1]] : rule.split(":");
    if (rulePort !== undefined && rulePort !== port) continue;
    const bare = ruleHost.replace(/^\*?\./, "");
    if (host === bare || host.endsWith(`.${bare}`)) return undefined;
  }
  return proxy;
}

const proxyAgents = new Map<string, Promise<http.Agent>>();

function proxyAgent(proxy: string, ca: TransportOptions["ca"]): Promise<http.Agent> {
  const key = ca === undefined ? proxy : `${proxy}|${String(ca)}`;
  let agent = proxyAgents.get(key);
  if (agent === undefined) {
    // Loaded only when a proxy is configured: no cost for everybody else.
    agent = import("https-proxy-agent").then(
      ({ HttpsProxyAgent }) => new HttpsProxyAgent(proxy, { keepAlive: true, ...(ca === undefined ? {} : { ca: ca as string | Buffer | Array<string | Buffer> }) }) as http.Agent,
    );
    proxyAgents.set(key, agent);
  }
  return agent;
}

/**
 * The agents keyless would use for `url`: the injected one, a proxy tunnel from the environment, or
 * the shared keep-alive agents. For vendor SDK clients that make a call on keyless's behalf.
 */
export async function agentsFor(url: URL, transport: TransportOptions): Promise<{ httpAgent: http.Agent; httpsAgent: https.Agent }> {
  if (transport.agent !== undefined) return { httpAgent: transport.agent, httpsAgent: transport.agent as https.Agent };
  const proxy = proxyFor(url);
  if (proxy !== undefined) {
    const agent = await proxyAgent(proxy, transport.ca);
    return { httpAgent: agent, httpsAgent: agent as https.Agent };
  }
  if (transport.ca !== undefined) return { httpAgent, httpsAgent: caAgent(transport.ca) };
  return { httpAgent, httpsAgent };
}

const caAgents = new Map<unknown, https.Agent>();
function caAgent(ca: NonNullable<TransportOptions["ca"]>): https.Agent {
  let agent = caAgents.get(ca);
  if (agent === undefined) {
    agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: ca as string | Buffer | Array<string | Buffer> });
    caAgents.set(ca, agent);
  }
  return agent;
}

/** Sends one request; any status comes back as a response, transport failures as typed errors. */
export async function request(req: HttpRequest): Promise<HttpResponse> {
  const url = assertEndpointAllowed(req.url, req.step);
  const isHttps = url.protocol === "https:";
  let agent = req.agent;
  if (agent === undefined) {
    const proxy = proxyFor(url);
    agent = proxy !== undefined ? await proxyAgent(proxy, req.ca) : isHttps ? httpsAgent : httpAgent;
  }
  return send(url, isHttps, agent, req);
}

function send(url: URL, isHttps: boolean, agent: http.Agent, req: HttpRequest): Promise<HttpResponse> {
  const { step, signal } = req;
  const where = describeUrl(url);
  const connectTimeoutMs = req.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = req.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const headers: Record<string, string> = { ...req.headers };
  if (req.body !== undefined) headers["content-length"] = String(Buffer.byteLength(req.body));

  return new Promise<HttpResponse>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(step, signal.reason));
    let settled = false;
    let connectTimer: NodeJS.Timeout | undefined;
    const finish = (error: KeylessError | undefined, response?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(totalTimer);
      clearTimeout(connectTimer);
      signal?.removeEventListener("abort", onAbort);
      if (error !== undefined) {
        outgoing.destroy();
        reject(error);
      } else resolve(response as HttpResponse);
    };
    const options: https.RequestOptions = { method: req.method ?? "GET", headers, agent };
    if (isHttps && req.ca !== undefined) options.ca = req.ca as string | Buffer | Array<string | Buffer>;
    const outgoing = (isHttps ? https : http).request(url, options);
    const totalTimer = setTimeout(() => {
      finish(new KeylessError("ERR_HTTP_TIMEOUT", `No complete answer from ${where} within ${timeoutMs} ms.`, { step, retryable: true, hint: "The upstream is slow or unreachable; raise timeoutMs if it is known to be slow." }));
    }, timeoutMs);
    const onAbort = () => finish(abortError(step, signal?.reason));
    signal?.addEventListener("abort", onAbort, { once: true });

    outgoing.on("socket", (socket) => {
      if (!socket.connecting) return;
      connectTimer = setTimeout(() => {
        finish(new KeylessError("ERR_HTTP_TIMEOUT", `Could not connect to ${where} within ${connectTimeoutMs} ms.`, { step, retryable: true, hint: "Check that the endpoint is reachable from this machine (network, firewall, proxy)." }));
      }, connectTimeoutMs);
      socket.once(isHttps ? "secureConnect" : "connect", () => clearTimeout(connectTimer));
    });
    outgoing.on("error", (cause: NodeJS.ErrnoException) => {
      finish(
        new KeylessError("ERR_HTTP_CONNECTION", `The connection to ${where} failed (${cause.code ?? cause.message}).`, {
          step,
          cause,
          retryable: true,
          hint: cause.code === "ECONNREFUSED" ? "Nothing is listening there: check the endpoint, or that this runs where that service exists." : undefined,
        }),
      );
    });
    outgoing.on("response", (incoming) => {
      const status = incoming.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        incoming.resume();
        finish(
          new KeylessError("ERR_HTTP_REDIRECT", `${where} answered with a redirect (${status}); keyless never follows redirects with credentials.`, {
            step,
            status,
            hint: "Point the endpoint at its final URL.",
            details: { location: typeof incoming.headers.location === "string" ? describeLocation(incoming.headers.location) : undefined },
          }),
        );
        return;
      }
      const declared = Number(incoming.headers["content-length"]);
      if (Number.isFinite(declared) && declared > maxBytes) {
        finish(tooLarge(where, step, maxBytes));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      incoming.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) finish(tooLarge(where, step, maxBytes));
        else chunks.push(chunk);
      });
      incoming.on("error", (cause) => {
        finish(new KeylessError("ERR_HTTP_CONNECTION", `The answer from ${where} was cut off.`, { step, cause, retryable: true }));
      });
      incoming.on("end", () => {
        if (!incoming.complete) {
          finish(new KeylessError("ERR_HTTP_CONNECTION", `The answer from ${where} was cut off.`, { step, retryable: true }));
          return;
        }
        const dateHeader = incoming.headers.date;
        const date = dateHeader === undefined ? undefined : Date.parse(dateHeader);
        finish(undefined, { status, headers: incoming.headers, body: Buffer.concat(chunks), date: Number.isNaN(date) ? undefined : date });
      });
    });
    outgoing.end(req.body);
  });
}

function tooLarge(where: string, step: string, maxBytes: number): KeylessError {
  return new KeylessError("ERR_RESPONSE_TOO_LARGE", `The answer from ${where} exceeds ${maxBytes} bytes.`, {
    step,
    hint: "Something other than the expected service is answering (a proxy or captive portal?), or raise maxResponseBytes.",
  });
}

function describeLocation(location: string): string {
  try {
    return describeUrl(new URL(location));
  } catch {
    return "(unparseable)";
  }
}

/** Form-encodes a body (`application/x-www-form-urlencoded`), skipping undefined fields. */
export function formBody(fields: Readonly<Record<string, string | number | undefined>>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) params.append(key, String(value));
  return params.toString();
}

/** Parses a JSON object body, or throws `ERR_RESPONSE_MALFORMED` naming the step. */
export function parseJsonObject(response: HttpResponse, step: string, where: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(response.body.toString("utf8"));
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new KeylessError("ERR_RESPONSE_MALFORMED", `The answer from ${where} (HTTP ${response.status}) is not a JSON object.`, {
    step,
    status: response.status,
    retryable: response.status >= 500,
    hint: "Something other than the expected service may be answering (a proxy?).",
  });
}

/** `Retry-After` in milliseconds (seconds or an HTTP date), if the response carries one. */
export function retryAfterMs(response: HttpResponse, now = Date.now()): number | undefined {
  const header = response.headers["retry-after"];
  if (typeof header !== "string") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
