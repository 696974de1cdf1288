import { describe, expect, it } from "vitest";
import { fromAzureWorkload, fromGcpWorkload, fromWebIdentity, type KeylessError } from "../../src/aws/index.js";
import { ManualClock } from "../../src/testing/manual-clock.js";
import { withEnv } from "../env.js";
import { useEmulatedClouds } from "../clouds.js";

const ctx = useEmulatedClouds();

const ROLE = "arn:aws:iam::111122223333:role/keyless-from-gcp";
const fast = { retry: { baseMs: 1, capMs: 5 }, cooldownMs: 0 } as const;
const STS = "aws.sts.AssumeRoleWithWebIdentity";
const stsXml = (code: string, message = "injected") =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`;
const injectSts = (status: number, code: string, times = 1) => ctx.clouds.instrumentation.inject(STS, { status, body: stsXml(code), headers: { "content-type": "text/xml" }, times });
const failure = (promise: Promise<unknown>) => promise.then(() => expect.fail("expected a failure"), (e: unknown) => e as KeylessError);

describe("STS error table (PROTOCOLS.md §2)", () => {
  it.each([
    ["IDPCommunicationError", 400],
    ["Throttling", 400],
  ])("%s is retried with backoff and then succeeds", async (code, status) => {
    injectSts(status, code);
    const creds = await fromGcpWorkload({ roleArn: ROLE, ...fast })();
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    expect(ctx.clouds.instrumentation.count(STS)).toBe(2);
  });

  it("5xx and a connection reset are retried", async () => {
    injectSts(500, "InternalFailure");
    ctx.clouds.instrumentation.inject(STS, { reset: true });
    await fromGcpWorkload({ roleArn: ROLE, ...fast })();
    expect(ctx.clouds.instrumentation.count(STS)).toBe(3);
  });

  it("a persistent outage ends as ERR_STS_UNAVAILABLE after the configured attempts", async () => {
    injectSts(503, "ServiceUnavailable", Infinity);
    const error = await failure(fromGcpWorkload({ roleArn: ROLE, ...fast })());
    expect(error.code).toBe("ERR_STS_UNAVAILABLE");
    expect(error.retryable).toBe(true);
    expect(ctx.clouds.instrumentation.count(STS)).toBe(3);
  });

  it("Throttling that persists ends as ERR_STS_THROTTLED", async () => {
    injectSts(400, "Throttling", Infinity);
    const error = await failure(fromGcpWorkload({ roleArn: ROLE, ...fast })());
    expect(error.code).toBe("ERR_STS_THROTTLED");
  });

  it("InvalidIdentityToken is retried at most once, and names the claims and the provider to fix", async () => {
    // A real failure: an issuer with no IAM OIDC provider in the account.
    const token = () => ctx.clouds.signAs("https://issuer.example.com", { aud: "sts.amazonaws.com", sub: "ci-job-7" });
    const error = await failure(fromWebIdentity({ roleArn: ROLE, token, ...fast })());
    expect(error.code).toBe("ERR_STS_INVALID_IDENTITY_TOKEN");
    expect(error.upstreamCode).toBe("InvalidIdentityToken");
    expect(ctx.clouds.instrumentation.count(STS)).toBe(2);
    expect(error.details).toMatchObject({ roleArn: ROLE, claims: { iss: "https://issuer.example.com", aud: "sts.amazonaws.com", sub: "ci-job-7" } });
    expect(error.hint).toContain("IAM OIDC identity provider for https://issuer.example.com");
  });

  it("ExpiredTokenException fetches a fresh token and retries once", async () => {
    injectSts(400, "ExpiredTokenException");
    await fromGcpWorkload({ roleArn: ROLE, ...fast })();
    expect(ctx.clouds.instrumentation.count(STS)).toBe(2);
    expect(ctx.clouds.instrumentation.count("gcp.metadata.identity")).toBe(2);
  });

  it("an expired web identity token is never sent: ERR_TOKEN_EXPIRED after one fresh fetch, no STS call", async () => {
    let fetched = 0;
    const token = () => (fetched++, ctx.clouds.signAs("https://accounts.google.com", { aud: "sts.amazonaws.com", azp: ctx.clouds.scenario.gcp.serviceAccountUniqueId, sub: ctx.clouds.scenario.gcp.serviceAccountUniqueId }, -60));
    const error = await failure(fromWebIdentity({ roleArn: ROLE, token, ...fast })());
    expect(error.code).toBe("ERR_TOKEN_EXPIRED");
    expect(fetched).toBe(2);
    expect(ctx.clouds.instrumentation.count(STS)).toBe(0);
  });

  it("STS's own ExpiredTokenException (its clock ahead of the token's issuer) ends as ERR_STS_EXPIRED_TOKEN after one retry", async () => {
    injectSts(400, "ExpiredTokenException", Infinity);
    const error = await failure(fromGcpWorkload({ roleArn: ROLE, ...fast })());
    expect(error.code).toBe("ERR_STS_EXPIRED_TOKEN");
    expect(ctx.clouds.instrumentation.count(STS)).toBe(2);
  });

  it("AccessDenied is not retried and shows Google's aud/azp mapping against the trust policy", async () => {
    // The role trusts oaud = sts.amazonaws.com; this token's aud differs, so the real trust check fails.
    const error = await failure(fromGcpWorkload({ roleArn: ROLE, audience: "my-other-audience", ...fast })());
    expect(error.code).toBe("ERR_STS_ACCESS_DENIED");
    expect(error.status).toBe(403);
    expect(ctx.clouds.instrumentation.count(STS)).toBe(1);
    const id = ctx.clouds.scenario.gcp.serviceAccountUniqueId;
    expect(error.details).toMatchObject({ roleArn: ROLE, claims: { iss: "https://accounts.google.com", aud: "my-other-audience", azp: id, sub: id } });
    expect(error.hint).toContain(`"accounts.google.com:aud" = "${id}"`);
    expect(error.hint).toContain(`"accounts.google.com:oaud" = "my-other-audience"`);
    expect(error.hint).toContain("azp");
  });

  it("AccessDenied for an unknown role", async () => {
    const error = await failure(fromGcpWorkload({ roleArn: "arn:aws:iam::111122223333:role/does-not-exist", ...fast })());
    expect(error.code).toBe("ERR_STS_ACCESS_DENIED");
  });

  it("a duration above the role's maximum is a ValidationError: not retried", async () => {
    const error = await failure(fromGcpWorkload({ roleArn: ROLE, durationSeconds: 7200, ...fast })());
    expect(error).toMatchObject({ code: "ERR_STS_REJECTED", upstreamCode: "ValidationError" });
    expect(ctx.clouds.instrumentation.count(STS)).toBe(1);
  });

  it.each(["IDPRejectedClaim", "MalformedPolicyDocument", "RegionDisabledException"])("%s is not retried", async (code) => {
    injectSts(code === "RegionDisabledException" ? 403 : 400, code);
    const error = await failure(fromGcpWorkload({ roleArn: ROLE, ...fast })());
    expect(error).toMatchObject({ code: "ERR_STS_REJECTED", upstreamCode: code });
    expect(ctx.clouds.instrumentation.count(STS)).toBe(1);
  });

  it("a failure leaves no secret in the message, the hint, the details or util.inspect", async () => {
    const { inspect } = await import("node:util");
    const error = await failure(fromGcpWorkload({ roleArn: ROLE, audience: "my-other-audience", ...fast })());
    const text = [error.message, error.hint, JSON.stringify(error.details), inspect(error), String(error)].join("\n");
    for (const secret of ctx.clouds.secrets()) expect(text).not.toContain(secret);
  });
});

describe("bad input fails at construction, before any request", () => {
  it.each([
    [{ roleArn: "arn:aws:iam::1:role/x" }, "ERR_CONFIG"],
    [{ roleArn: "not-an-arn" }, "ERR_CONFIG"],
    [{ roleArn: ROLE, roleSessionName: "has spaces" }, "ERR_CONFIG"],
    [{ roleArn: ROLE, roleSessionName: "x".repeat(65) }, "ERR_CONFIG"],
    [{ roleArn: ROLE, durationSeconds: 899 }, "ERR_CONFIG"],
    [{ roleArn: ROLE, durationSeconds: 43_201 }, "ERR_CONFIG"],
    [{ roleArn: ROLE, policy: "{not json" }, "ERR_CONFIG"],
    [{ roleArn: ROLE, endpoint: "http://sts.example.com" }, "ERR_ENDPOINT_NOT_ALLOWED"],
  ])("%j → %s", (options, code) => {
    expect(() => fromGcpWorkload(options)).toThrow(expect.objectContaining({ code }));
    expect(ctx.clouds.instrumentation.count()).toBe(0);
  });

  it("without a role ARN anywhere", () => {
    const restore = withEnv({ AWS_ROLE_ARN: undefined });
    try {
      expect(() => fromGcpWorkload()).toThrow(expect.objectContaining({ code: "ERR_CONFIG" }));
    } finally {
      restore();
    }
  });

  it("AWS_ROLE_ARN and AWS_ROLE_SESSION_NAME fill in absent options", async () => {
    const restore = withEnv({ AWS_ROLE_ARN: ROLE, AWS_ROLE_SESSION_NAME: "from-env" });
    try {
      await fromGcpWorkload({ region: "us-east-1" })();
      const arns = ctx.clouds.awsKeys.secrets().length;
      expect(arns).toBeGreaterThan(0);
      expect(ctx.clouds.instrumentation.count(STS)).toBe(1);
    } finally {
      restore();
    }
  });

  it("a token literal passed as a file path is refused", () => {
    expect(() => fromWebIdentity({ roleArn: ROLE, token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.sig" })).toThrow(expect.objectContaining({ code: "ERR_CONFIG" }));
  });
});

describe("metadata sources", () => {
  it("GCP metadata 503 while the instance starts is retried", async () => {
    ctx.clouds.instrumentation.inject("gcp.metadata.identity", { status: 503, headers: { "metadata-flavor": "Google" } });
    await fromGcpWorkload({ roleArn: ROLE, ...fast })();
    expect(ctx.clouds.instrumentation.count("gcp.metadata.identity")).toBe(2);
  });

  it("GCP metadata 404 (no such service account) is not retried and says what to attach", async () => {
    const error = await failure(fromGcpWorkload({ roleArn: ROLE, serviceAccount: "nobody@example.iam.gserviceaccount.com", ...fast })());
    expect(error).toMatchObject({ code: "ERR_TOKEN_SOURCE", status: 404, step: "gcp-metadata" });
    expect(error.hint).toContain("service account");
    expect(ctx.clouds.instrumentation.count("gcp.metadata.")).toBe(1);
    expect(ctx.clouds.instrumentation.count(STS)).toBe(0);
  });

  it("an answer without Metadata-Flavor: Google is refused (not the metadata server)", async () => {
    ctx.clouds.instrumentation.inject("gcp.metadata.identity", { status: 200, body: "eyJhbGciOiJub25lIn0.e30.", times: Infinity });
    const error = await failure(fromGcpWorkload({ roleArn: ROLE, ...fast })());
    expect(error.code).toBe("ERR_NOT_GENUINE_METADATA_SERVER");
    expect(ctx.clouds.instrumentation.count(STS)).toBe(0);
  });

  it.each([
    [404, "not found while IMDS starts"],
    [429, "throttled"],
    [500, "server error"],
    [410, "updating"],
  ])("Azure IMDS %i (%s) is retried", async (status) => {
    ctx.clouds.instrumentation.inject("azure.imds.token", { status, body: "{}" });
    await fromAzureWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-azure", resource: "api://keyless-aws", ...fast })();
    expect(ctx.clouds.instrumentation.count("azure.imds.token")).toBe(2);
  });

  it("Azure IMDS 429 with Retry-After is honoured", async () => {
    ctx.clouds.instrumentation.inject("azure.imds.token", { status: 429, body: "{}", headers: { "retry-after": "1" } });
    const started = Date.now();
    await fromAzureWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-azure", resource: "api://keyless-aws", ...fast })();
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });

  it("Azure IMDS 410 is retried for at least 70 s, beyond the usual attempt limit", async () => {
    const clock = new ManualClock(Date.now());
    ctx.clouds.instrumentation.inject("azure.imds.token", { status: 410, body: "{}", times: 12 });
    let settled = false;
    const pending = fromAzureWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-azure", resource: "api://keyless-aws", clock, retry: { baseMs: 1_000, capMs: 10_000, maxAttempts: 3 } })().finally(() => (settled = true));
    while (!settled) {
      await clock.advance(1_000);
      await new Promise((r) => setTimeout(r, 2));
    }
    await pending;
    expect(ctx.clouds.instrumentation.count("azure.imds.token")).toBe(13);
  });

  it("Azure IMDS 400 (identity not found) is not retried", async () => {
    const error = await failure(fromAzureWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-azure", resource: "api://keyless-aws", managedIdentityClientId: "00000000-0000-0000-0000-000000000000", ...fast })());
    expect(error).toMatchObject({ code: "ERR_TOKEN_SOURCE", status: 400, step: "azure-imds" });
    expect(error.message).toContain("Identity not found");
    expect(ctx.clouds.instrumentation.count("azure.imds.token")).toBe(1);
  });

  it("Azure Arc and Service Fabric are detected and refused with a clear error", async () => {
    const restore = withEnv({ IDENTITY_ENDPOINT: "http://127.0.0.1:1/", IDENTITY_HEADER: "h", IMDS_ENDPOINT: "http://127.0.0.1:2/" });
    try {
      const error = await failure(fromAzureWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-azure", resource: "api://keyless-aws", ...fast })());
      expect(error.code).toBe("ERR_UNSUPPORTED");
      expect(error.message).toContain("Azure Arc");
    } finally {
      restore();
    }
  });
});
