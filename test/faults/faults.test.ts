import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { inspect } from "node:util";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { clearSharedCaches, type RefreshEvent } from "../../src/core/refresh.js";
import { isKeylessError, type KeylessError } from "../../src/core/errors.js";
import { startEmulatedClouds, type EmulatedClouds, type Fault } from "../../src/testing/index.js";
import { testCertificate } from "../helpers.js";
import { withEnv } from "../env.js";
import { DIRECTIONS } from "./directions.js";

// Short timeouts keep the suite fast; every bound below derives from them.
const TIMEOUT_MS = 300;
const OPTIONS = { timeoutMs: TIMEOUT_MS, connectTimeoutMs: 200, retry: { baseMs: 5, capMs: 20, maxAttempts: 3 }, cooldownMs: 0, shareCache: false } as const;
const MAX_ATTEMPTS = 3;
// Worst case: every attempt times out, plus backoff and (for STS through the SDK) its own overhead.
const BOUND_MS = MAX_ATTEMPTS * (TIMEOUT_MS + 200) + 1_500;

let clouds: EmulatedClouds;
let restoreEnv: () => void;
let redirectTarget: Server;
let redirectHits = 0;
const texts: string[] = [];
const events: RefreshEvent[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  clouds = await startEmulatedClouds({ tls: testCertificate() });
  restoreEnv = withEnv(clouds.env);
  redirectTarget = createServer((_req, res) => {
    redirectHits++;
    res.end("stolen");
  });
  await new Promise<void>((r) => redirectTarget.listen(0, "127.0.0.1", r));
});
afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  restoreEnv?.();
  await new Promise<void>((r) => redirectTarget.close(() => r()));
  await clouds.close();
});
beforeEach(() => {
  clearSharedCaches();
  clouds.instrumentation.resetCounts();
  clouds.instrumentation.clearFaults();
});

function record(error: unknown): void {
  if (error instanceof Error) texts.push(error.message, String(error), inspect(error, { depth: 6 }));
  if (isKeylessError(error)) texts.push(error.hint ?? "", JSON.stringify(error.details ?? {}));
}

async function attempt(direction: (typeof DIRECTIONS)[number]) {
  const { get, object } = direction.make(clouds, { ...OPTIONS, onEvent: (e) => events.push(e) });
  texts.push(inspect(object, { depth: 6 }));
  const started = Date.now();
  try {
    const value = await get();
    return { ok: true as const, value, ms: Date.now() - started, get };
  } catch (error) {
    record(error);
    return { ok: false as const, error: error as KeylessError, ms: Date.now() - started, get };
  }
}

const redirectUrl = () => `http://127.0.0.1:${(redirectTarget.address() as AddressInfo).port}/elsewhere`;
const STS_XML_ERROR = (code: string) => `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>injected</Message></Error><RequestId>r</RequestId></ErrorResponse>`;
const throttle = (upstream: string, retryAfter?: string): Fault => ({
  status: upstream.startsWith("aws.sts") ? 400 : 429,
  body: upstream.startsWith("aws.sts") ? STS_XML_ERROR("Throttling") : upstream.startsWith("aws.cognito") ? JSON.stringify({ __type: "TooManyRequestsException", message: "slow down" }) : "{}",
  headers: { "content-type": upstream.startsWith("aws.sts") ? "text/xml" : "application/json", ...(retryAfter === undefined ? {} : { "retry-after": retryAfter }) },
});

/** Faults after which one retry must recover. */
const TRANSIENT: Array<[string, (upstream: string) => Fault]> = [
  ["5xx", () => ({ status: 503, body: "" })],
  ["connection reset", () => ({ reset: true })],
  ["body cut off", () => ({ truncate: true })],
  ["429/Throttling without Retry-After", (u) => throttle(u)],
  ["429/Throttling with Retry-After", (u) => throttle(u, "1")],
];

/** Faults that persist: a typed error, bounded attempts and time; then recovery once healed. */
const PERSISTENT: Array<[string, (upstream: string) => Fault, RegExp]> = [
  ["headers never arrive", () => ({ hang: true }), /ERR_.*(TIMEOUT|UNAVAILABLE|CONNECTION|TOKEN_SOURCE)/],
  ["body stalls", () => ({ stallBody: true }), /ERR_/],
  ["5xx", () => ({ status: 500, body: "" }), /ERR_/],
  ["malformed body", () => ({ status: 200, body: "<<<{not json or xml", headers: { "content-type": "application/json" } }), /ERR_/],
  ["a 10 MiB body", () => ({ oversizeBytes: 10 * 1024 * 1024 }), /ERR_/],
  ["a redirect to another host", () => ({ redirectTo: redirectUrl() }), /ERR_/],
];

describe.each(DIRECTIONS)("faults: $name", (direction) => {
  describe.each(direction.upstreams)("upstream %s", (upstream) => {
    it.each(TRANSIENT)("recovers from one %s with a retry", async (_name, fault) => {
      clouds.instrumentation.inject(upstream, fault(upstream));
      const r = await attempt(direction);
      expect(r.ok, r.ok ? "" : `${r.error.code}: ${r.error.message}`).toBe(true);
      expect(clouds.instrumentation.count(upstream)).toBe(2);
      if (r.ok) expect(r.value.expiresAt).toBeGreaterThan(Date.now());
      if (_name.includes("with Retry-After")) expect(r.ms).toBeGreaterThanOrEqual(950);
    });

    it.each(PERSISTENT)("%s: a typed error within bounds, then recovery once healed", async (name, fault, code) => {
      clouds.instrumentation.inject(upstream, { ...fault(upstream), times: Infinity });
      const before = redirectHits;
      const r = await attempt(direction);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(isKeylessError(r.error)).toBe(true);
        expect(r.error.code).toMatch(code);
        expect(r.ms).toBeLessThan(BOUND_MS);
      }
      expect(clouds.instrumentation.count(upstream)).toBeGreaterThanOrEqual(1);
      expect(clouds.instrumentation.count(upstream)).toBeLessThanOrEqual(MAX_ATTEMPTS);
      if (name.includes("redirect")) expect(redirectHits).toBe(before);
      clouds.instrumentation.clearFaults();
      const healed = await r.get();
      expect(healed.expiresAt).toBeGreaterThan(Date.now());
    });
  });

  it("connection refused at the first upstream: typed, retryable, bounded", async () => {
    const first = direction.upstreams[0]!;
    const dead = "http://127.0.0.1:9";
    const env: Record<string, string> = first.startsWith("gcp.metadata") ? { GCE_METADATA_HOST: "127.0.0.1:9" } : first.startsWith("azure.imds") ? { AZURE_POD_IDENTITY_AUTHORITY_HOST: dead } : first.startsWith("aws.cognito") ? { AWS_ENDPOINT_URL_COGNITO_IDENTITY: dead } : {};
    if (first.startsWith("google.sts")) return; // the token URL is an option there: covered by the persistent faults
    const restore = withEnv(env);
    try {
      const r = await attempt(direction);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toMatch(/ERR_(HTTP_CONNECTION|COGNITO|TOKEN_SOURCE)/);
        expect(r.error.retryable).toBe(true);
        expect(r.ms).toBeLessThan(BOUND_MS);
      }
    } finally {
      restore();
    }
  });
});

describe("success answers that are wrong, at every upstream", () => {
  const fakeJwt = (claims: Record<string, unknown>) => `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(JSON.stringify({ iss: "https://issuer.example", sub: "s", aud: "a", ...claims })).toString("base64url")}.c2ln`;
  const past = Math.floor(Date.now() / 1000) - 60;
  const now = Math.floor(Date.now() / 1000);
  const stsSuccess = (expiration: string, withToken = true) =>
    `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/r/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>ASIAFAKE</AccessKeyId><SecretAccessKey>x</SecretAccessKey>${withToken ? "<SessionToken>t</SessionToken>" : ""}<Expiration>${expiration}</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`;
  const xml = { "content-type": "text/xml" };
  const flavor = { "metadata-flavor": "Google" };
  const cases: Array<[string, number, string, Fault, RegExp]> = [
    // GCP metadata (its answer is the JWT itself)
    ["metadata: an already-expired ID token", 0, "gcp.metadata.identity", { status: 200, body: fakeJwt({ exp: past }), headers: flavor }, /ERR_TOKEN_EXPIRED/],
    ["metadata: an ID token expiring now (lifetime 0)", 4, "gcp.metadata.identity", { status: 200, body: fakeJwt({ exp: now }), headers: flavor }, /ERR_TOKEN_EXPIRED/],
    ["metadata: an empty body", 0, "gcp.metadata.identity", { status: 200, body: "", headers: flavor }, /ERR_RESPONSE_MALFORMED/],
    // Azure IMDS
    ["IMDS: an already-expired token", 1, "azure.imds.token", { status: 200, body: JSON.stringify({ access_token: fakeJwt({ exp: past }), expires_in: "0" }) }, /ERR_TOKEN_EXPIRED/],
    ["IMDS: a token expiring now (expires_in 0)", 3, "azure.imds.token", { status: 200, body: JSON.stringify({ access_token: fakeJwt({ exp: now }), expires_in: "0" }) }, /ERR_TOKEN_EXPIRED/],
    ["IMDS: no access_token", 1, "azure.imds.token", { status: 200, body: JSON.stringify({ expires_in: "3600" }) }, /ERR_RESPONSE_MALFORMED/],
    // AWS STS
    ["STS: credentials that already expired", 0, "aws.sts.AssumeRoleWithWebIdentity", { status: 200, body: stsSuccess("2001-01-01T00:00:00Z"), headers: xml }, /ERR_CREDENTIALS_EXPIRED/],
    ["STS: credentials expiring now (lifetime 0)", 1, "aws.sts.AssumeRoleWithWebIdentity", { status: 200, body: stsSuccess(new Date(Date.now() - 1).toISOString()), headers: xml }, /ERR_CREDENTIALS_EXPIRED/],
    ["STS: no session token", 0, "aws.sts.AssumeRoleWithWebIdentity", { status: 200, body: stsSuccess("2099-01-01T00:00:00Z", false), headers: xml }, /ERR_RESPONSE_MALFORMED/],
    // Google STS
    ["Google STS: expires_in 0", 2, "google.sts.token", { status: 200, body: JSON.stringify({ access_token: "ya29.x", expires_in: 0, token_type: "Bearer" }) }, /ERR_CREDENTIALS_EXPIRED/],
    ["Google STS: expires_in negative", 3, "google.sts.token", { status: 200, body: JSON.stringify({ access_token: "ya29.x", expires_in: -30, token_type: "Bearer" }) }, /ERR_CREDENTIALS_EXPIRED/],
    ["Google STS: no access_token", 2, "google.sts.token", { status: 200, body: JSON.stringify({ token_type: "Bearer" }) }, /ERR_RESPONSE_MALFORMED/],
    // IAM Credentials
    ["IAM Credentials: an expireTime in the past", 2, "google.iam.generateAccessToken", { status: 200, body: JSON.stringify({ accessToken: "ya29.y", expireTime: "2001-01-01T00:00:00Z" }) }, /ERR_CREDENTIALS_EXPIRED/],
    ["IAM Credentials: no expireTime", 3, "google.iam.generateAccessToken", { status: 200, body: JSON.stringify({ accessToken: "ya29.y" }) }, /ERR_RESPONSE_MALFORMED/],
    // Cognito
    ["Cognito: an already-expired token", 5, "aws.cognito.GetOpenIdTokenForDeveloperIdentity", { status: 200, body: JSON.stringify({ IdentityId: "x", Token: fakeJwt({ exp: past }) }) }, /ERR_TOKEN_EXPIRED/],
    ["Cognito: no Token", 5, "aws.cognito.GetOpenIdTokenForDeveloperIdentity", { status: 200, body: JSON.stringify({ IdentityId: "x" }) }, /ERR_RESPONSE_MALFORMED/],
    // Entra
    ["Entra: expires_in 0", 4, "azure.entra.token", { status: 200, body: JSON.stringify({ token_type: "Bearer", access_token: "eyJ.x.y", expires_in: 0 }) }, /ERR_CREDENTIALS_EXPIRED/],
    ["Entra: expires_in negative", 5, "azure.entra.token", { status: 200, body: JSON.stringify({ token_type: "Bearer", access_token: "eyJ.x.y", expires_in: -5 }) }, /ERR_CREDENTIALS_EXPIRED/],
    ["Entra: no access_token", 4, "azure.entra.token", { status: 200, body: JSON.stringify({ token_type: "Bearer", expires_in: 3599 }) }, /ERR_RESPONSE_MALFORMED/],
  ];
  it.each(cases)("%s: a typed error, never a credential, bounded attempts", async (_name, index, upstream, fault, code) => {
    clouds.instrumentation.inject(upstream, { ...fault, times: Infinity });
    const r = await attempt(DIRECTIONS[index]!);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toMatch(code);
    expect(clouds.instrumentation.count(upstream)).toBeGreaterThanOrEqual(1);
    expect(clouds.instrumentation.count(upstream)).toBeLessThanOrEqual(MAX_ATTEMPTS);
    // Nothing downstream of a token source ever saw the bad token.
    if (code.source.includes("TOKEN_EXPIRED")) {
      const downstream = DIRECTIONS[index]!.upstreams.slice(DIRECTIONS[index]!.upstreams.indexOf(upstream) + 1);
      for (const d of downstream) expect(clouds.instrumentation.count(d), d).toBe(0);
    }
  });
});

describe.each([-10, 10])("clock skew of %i minutes between this machine and every cloud", (minutes) => {
  it.each(DIRECTIONS.map((d) => [d.name, d] as const))("%s works and never reports an expiry beyond the lifetime asked for", async (_name, direction) => {
    const skewed = await startEmulatedClouds({ tls: testCertificate(), clock: { now: () => Date.now() + minutes * 60_000, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) } });
    const restore = withEnv(skewed.env);
    try {
      const { get } = direction.make(skewed, { ...OPTIONS, onEvent: (e) => events.push(e) });
      const value = await get();
      expect(value.expiresAt).toBeGreaterThan(Date.now());
      expect(value.expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000 + 1_000);
    } finally {
      restore();
      await skewed.close();
    }
  });
});

describe("what the whole suite produced", () => {
  it("has no unhandled rejection, and no secret in any error, inspect output or event", () => {
    expect(unhandled).toEqual([]);
    const corpus = [...texts, ...events.map((e) => JSON.stringify(e))].join("\n");
    const secrets = [...clouds.secrets(), ...clouds.googleTokens.keys()];
    const hits = secrets.filter((s) => s.length >= 16 && corpus.includes(s));
    console.log(`secrets scan: ${texts.length} error and inspect texts, ${events.length} events, ${secrets.length} secrets issued by the emulators, ${hits.length} hits`);
    expect(texts.length).toBeGreaterThan(100);
    expect(secrets.length).toBeGreaterThan(50);
    expect(hits).toEqual([]);
  });
});
