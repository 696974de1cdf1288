import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BlobServiceClient } from "@azure/storage-blob";
import { fromAwsWorkload, fromGcpWorkload, FederatedCredential, type KeylessError } from "../../src/azure/index.js";
import { clearSharedCaches } from "../../src/core/refresh.js";
import { startAzurite, startEmulatedClouds, type EmulatedClouds, type RunningAzurite } from "../../src/testing/index.js";
import { testCertificate } from "../helpers.js";
import { withEnv } from "../env.js";

let clouds: EmulatedClouds;
let azurite: RunningAzurite;
let restoreEnv: () => void;
beforeAll(async () => {
  const tls = testCertificate();
  [clouds, azurite] = await Promise.all([startEmulatedClouds({ tls }), startAzurite({ tls })]);
  restoreEnv = withEnv({ ...clouds.env, AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent", ...clouds.lambdaEnv() });
}, 90_000);
afterAll(async () => {
  restoreEnv?.();
  await Promise.all([clouds?.close(), azurite?.close()]);
});
beforeEach(() => {
  clearSharedCaches();
  clouds.instrumentation.resetCounts();
  clouds.instrumentation.clearFaults();
});

const app = () => clouds.scenario.entra.applications[0]!;
const pool = () => clouds.scenario.cognito.pools[0]!;
const ids = () => ({ tenantId: clouds.scenario.azure.tenantId, clientId: app().clientId });

async function blobRoundTrip(credential: FederatedCredential, container: string): Promise<string> {
  const service = new BlobServiceClient(azurite.blobUrl, credential);
  const containerClient = service.getContainerClient(container);
  await containerClient.create();
  const blob = containerClient.getBlockBlobClient("hello.txt");
  await blob.upload("hello from keyless", 18);
  const buffer = await blob.downloadToBuffer();
  return buffer.toString("utf8");
}

describe("keyless/azure end to end with the real BlobServiceClient on azurite (--oauth basic, https)", () => {
  it("GCP → Azure: creates a container, uploads and downloads a blob", async () => {
    expect(await blobRoundTrip(fromGcpWorkload(ids()), "from-gcp")).toBe("hello from keyless");
    expect(clouds.instrumentation.count("gcp.metadata.identity")).toBe(1);
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(1);
    expect(clouds.entraGrants.at(-1)).toMatchObject({ clientId: app().clientId, resource: "https://storage.azure.com", assertionIssuer: "https://accounts.google.com", assertionSubject: clouds.scenario.gcp.serviceAccountUniqueId });
  });

  it("AWS → Azure (Lambda environment credentials): the Cognito developer token is the assertion", async () => {
    const credential = fromAwsWorkload({ ...ids(), identityPoolId: pool().identityPoolId, developerProviderName: pool().developerProviderName });
    expect(await blobRoundTrip(credential, "from-aws")).toBe("hello from keyless");
    expect(clouds.instrumentation.count("aws.cognito.GetOpenIdTokenForDeveloperIdentity")).toBe(1);
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(1);
    expect(clouds.entraGrants.at(-1)).toMatchObject({ assertionIssuer: "https://cognito-identity.amazonaws.com" });
  });

  it("AWS → Azure through STS GetWebIdentityToken (outbound identity federation): iss = the account's issuer, sub = the role ARN", async () => {
    const credential = fromAwsWorkload({ ...ids(), assertionSource: "sts", region: "us-east-1" });
    expect(await blobRoundTrip(credential, "from-aws-sts")).toBe("hello from keyless");
    expect(clouds.instrumentation.count("aws.sts.GetWebIdentityToken")).toBe(1);
    expect(clouds.instrumentation.count("aws.cognito.")).toBe(0);
    expect(clouds.entraGrants.at(-1)).toMatchObject({ assertionIssuer: clouds.scenario.aws.outboundIssuer, assertionSubject: "arn:aws:iam::111122223333:role/keyless-workload" });
  });

  it("500 concurrent cold getToken calls: one request per upstream step; 1,000 cached calls: none", async () => {
    const credential = fromGcpWorkload(ids());
    const tokens = await Promise.all(Array.from({ length: 500 }, () => credential.getToken("https://storage.azure.com/.default")));
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
    expect(clouds.instrumentation.counts()).toEqual({ "gcp.metadata.identity": 1, "azure.entra.token": 1 });
    clouds.instrumentation.resetCounts();
    for (let i = 0; i < 1_000; i++) await credential.getToken(["https://storage.azure.com/.default"]);
    expect(clouds.instrumentation.count()).toBe(0);
    const t = tokens[0]!;
    expect(t.tokenType).toBe("Bearer");
    expect(t.refreshAfterTimestamp).toBeGreaterThan(Date.now());
    expect(t.refreshAfterTimestamp).toBeLessThan(t.expiresOnTimestamp);
  });

  it("AWS → Azure: 500 concurrent cold callers, one Cognito call and one Entra call", async () => {
    const credential = fromAwsWorkload({ ...ids(), identityPoolId: pool().identityPoolId, developerProviderName: pool().developerProviderName });
    await Promise.all(Array.from({ length: 500 }, () => credential.getToken("https://storage.azure.com/.default")));
    expect(clouds.instrumentation.counts()).toEqual({ "aws.cognito.GetOpenIdTokenForDeveloperIdentity": 1, "azure.entra.token": 1 });
  });

  it("one cached token per scope set", async () => {
    const credential = fromGcpWorkload(ids());
    const a = await credential.getToken("https://storage.azure.com/.default");
    const b = await credential.getToken("https://vault.azure.net/.default");
    expect(a.token).not.toBe(b.token);
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(2);
  });

  it("claims bypass the cache; a foreign tenant is refused unless allowed; abortSignal is honoured", async () => {
    const credential = fromGcpWorkload(ids());
    await credential.getToken("https://storage.azure.com/.default");
    await credential.getToken("https://storage.azure.com/.default", { claims: '{"access_token":{"nbf":{"essential":true,"value":"1"}}}' });
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(2);
    await expect(credential.getToken("https://storage.azure.com/.default", { tenantId: "other-tenant" })).rejects.toMatchObject({ code: "ERR_TENANT_NOT_ALLOWED" });
    clouds.instrumentation.inject("azure.entra.token", { hang: true });
    const cold = fromGcpWorkload({ ...ids(), shareCache: false });
    const controller = new AbortController();
    const pending = cold.getToken("https://storage.azure.com/.default", { abortSignal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ code: "ERR_ABORTED" });
  });

  it("a token file (AKS workload identity) is re-read before each exchange; tenant and client from the environment", async () => {
    const { mkdtempSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const env = await clouds.writeWorkloadIdentityTokenFile(join(mkdtempSync(join(tmpdir(), "keyless-aks-")), "token"));
    const restore = withEnv(env);
    try {
      const credential = new FederatedCredential({ assertion: env["AZURE_FEDERATED_TOKEN_FILE"]! });
      expect(await blobRoundTrip(credential, "from-aks")).toBe("hello from keyless");
      expect(clouds.entraGrants.at(-1)?.assertionSubject).toBe("system:serviceaccount:default:workload");
    } finally {
      restore();
    }
  });
});

describe("AADSTS errors (PROTOCOLS.md §8)", () => {
  const fast = { retry: { baseMs: 1, capMs: 5 }, cooldownMs: 0, shareCache: false } as const;
  const failure = (p: Promise<unknown>) => p.then(() => expect.fail("expected a failure"), (e: unknown) => e as KeylessError);
  const googleToken = (claims: Record<string, unknown>, lifetime?: number) => () => clouds.signAs("https://accounts.google.com", { aud: "api://AzureADTokenExchange", sub: clouds.scenario.gcp.serviceAccountUniqueId, ...claims }, lifetime);

  it("700213: wrong subject, not retried, prints the assertion's iss/sub next to what the credential must hold", async () => {
    const error = await failure(new FederatedCredential({ ...ids(), ...fast, assertion: googleToken({ sub: "999" }) }).getToken("https://storage.azure.com/.default"));
    expect(error).toMatchObject({ code: "ERR_ENTRA_REJECTED", upstreamCode: "AADSTS700213" });
    expect(error.details).toMatchObject({ assertion: { iss: "https://accounts.google.com", sub: "999" } });
    expect(error.hint).toContain('subject must be exactly "999"');
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(1);
  });

  it("700211: unknown issuer, not retried", async () => {
    const error = await failure(new FederatedCredential({ ...ids(), ...fast, assertion: () => clouds.signAs("https://token.actions.example.com", { aud: "api://AzureADTokenExchange", sub: "repo:x" }) }).getToken("https://storage.azure.com/.default"));
    expect(error).toMatchObject({ upstreamCode: "AADSTS700211" });
    expect(error.hint).toContain('"https://token.actions.example.com"');
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(1);
  });

  it("700212: wrong audience, not retried", async () => {
    const error = await failure(new FederatedCredential({ ...ids(), ...fast, assertion: googleToken({ aud: "api://wrong" }) }).getToken("https://storage.azure.com/.default"));
    expect(error).toMatchObject({ upstreamCode: "AADSTS700212" });
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(1);
  });

  it("70021: retried briefly (a new federated credential propagating), then succeeds", async () => {
    const body = JSON.stringify({ error: "invalid_client", error_description: "AADSTS70021: No matching federated identity record found for presented assertion.", error_codes: [70021] });
    clouds.instrumentation.inject("azure.entra.token", { status: 400, body, headers: { "content-type": "application/json" }, times: 2 });
    await new FederatedCredential({ ...ids(), ...fast, retry: { baseMs: 1, capMs: 5, maxAttempts: 5 }, assertion: googleToken({}) }).getToken("https://storage.azure.com/.default");
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(3);
  });

  it("70025: the application has no federated credentials at all", async () => {
    const body = JSON.stringify({ error: "invalid_client", error_description: "AADSTS70025: The client has no configured federated identity credentials.", error_codes: [70025] });
    clouds.instrumentation.inject("azure.entra.token", { status: 400, body });
    const error = await failure(new FederatedCredential({ ...ids(), ...fast, assertion: googleToken({}) }).getToken("https://storage.azure.com/.default"));
    expect(error).toMatchObject({ upstreamCode: "AADSTS70025" });
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(1);
  });

  it("700024: an expired assertion is never sent; Entra's own 700024 refetches the assertion once", async () => {
    let fetched = 0;
    const expired = () => {
      fetched++;
      return clouds.signAs("https://accounts.google.com", { aud: "api://AzureADTokenExchange", sub: clouds.scenario.gcp.serviceAccountUniqueId }, -10);
    };
    const error = await failure(new FederatedCredential({ ...ids(), ...fast, assertion: expired }).getToken("https://storage.azure.com/.default"));
    expect(error.code).toBe("ERR_TOKEN_EXPIRED");
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(0);
    expect(fetched).toBe(2);
    const body = JSON.stringify({ error: "invalid_client", error_description: "AADSTS700024: Client assertion is not within its valid time range.", error_codes: [700024] });
    clouds.instrumentation.inject("azure.entra.token", { status: 400, body });
    let sources = 0;
    const counted = () => (sources++, googleToken({})());
    await new FederatedCredential({ ...ids(), ...fast, assertion: counted }).getToken("https://storage.azure.com/.default");
    expect(sources).toBe(2);
  });

  it.each([
    ["700016", "unknown application", { clientId: "00000000-0000-0000-0000-000000000000" }],
    ["90002", "unknown tenant", { tenantId: "no-such-tenant" }],
  ])("AADSTS%s (%s) is not retried", async (code, _name, override) => {
    const error = await failure(new FederatedCredential({ ...ids(), ...override, ...fast, assertion: googleToken({}) }).getToken("https://storage.azure.com/.default"));
    expect(error).toMatchObject({ upstreamCode: `AADSTS${code}` });
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(1);
  });

  it("50027: a malformed assertion, not retried", async () => {
    const body = JSON.stringify({ error: "invalid_request", error_description: "AADSTS50027: JWT token is invalid or malformed.", error_codes: [50027] });
    clouds.instrumentation.inject("azure.entra.token", { status: 400, body });
    const error = await failure(new FederatedCredential({ ...ids(), ...fast, assertion: googleToken({}) }).getToken("https://storage.azure.com/.default"));
    expect(error).toMatchObject({ upstreamCode: "AADSTS50027" });
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(1);
  });

  it("Entra 5xx and 429 are retried", async () => {
    clouds.instrumentation.inject("azure.entra.token", { status: 503, body: "" });
    clouds.instrumentation.inject("azure.entra.token", { status: 429, body: "", headers: { "retry-after": "0" } });
    await new FederatedCredential({ ...ids(), ...fast, assertion: googleToken({}) }).getToken("https://storage.azure.com/.default");
    expect(clouds.instrumentation.count("azure.entra.token")).toBe(3);
  });

  it("bad input fails at construction", () => {
    expect(() => new FederatedCredential({ tenantId: "t", clientId: "not-a-guid", assertion: () => "x" })).toThrow(expect.objectContaining({ code: "ERR_CONFIG" }));
    expect(() => new FederatedCredential({ ...ids(), authorityHost: "http://login.example.com", assertion: () => "x" })).toThrow(expect.objectContaining({ code: "ERR_ENDPOINT_NOT_ALLOWED" }));
    expect(() => fromAwsWorkload({ ...ids(), identityPoolId: "bad", developerProviderName: "p" })).toThrow(expect.objectContaining({ code: "ERR_CONFIG" }));
  });
});
