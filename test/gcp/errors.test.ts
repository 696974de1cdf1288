import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { inspect } from "node:util";
import { AwsWorkloadClient, AzureWorkloadClient, type KeylessError } from "../../src/gcp/index.js";
import { clearSharedCaches } from "../../src/core/refresh.js";
import { defaultScenario, startEmulatedClouds, type EmulatedClouds } from "../../src/testing/index.js";
import { withEnv } from "../env.js";

let clouds: EmulatedClouds;
let restoreEnv: () => void;
const base = defaultScenario();
const pool = "projects/123456789012/locations/global/workloadIdentityPools/keyless";
const CONDITIONED = `//iam.googleapis.com/${pool}/providers/aws-conditioned`;
const UNBOUND = "unbound@keyless-demo.iam.gserviceaccount.com";

beforeAll(async () => {
  clouds = await startEmulatedClouds({
    scenario: {
      google: {
        ...base.google,
        pools: [...base.google.pools, { audience: CONDITIONED, kind: "aws", awsAccountId: "111122223333", attributeCondition: { "attribute.aws_account": "999999999999" } }],
        serviceAccounts: [...base.google.serviceAccounts, { email: UNBOUND, uniqueId: "1", workloadIdentityUsers: [] }],
      },
    },
  });
  restoreEnv = withEnv({ ...clouds.env, AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent", AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined });
});
afterAll(async () => {
  restoreEnv?.();
  await clouds.close();
});
let restoreLambda: () => void = () => undefined;
beforeEach(() => {
  clearSharedCaches();
  restoreLambda();
  restoreLambda = withEnv(clouds.lambdaEnv());
  clouds.instrumentation.resetCounts();
  clouds.instrumentation.clearFaults();
});

const fast = { retry: { baseMs: 1, capMs: 5 }, cooldownMs: 0 } as const;
const awsAudience = () => clouds.scenario.google.pools[0]!.audience;
const urls = (sa = "keyless-target@keyless-demo.iam.gserviceaccount.com") => ({ tokenUrl: `${clouds.urls.google}/v1/token`, serviceAccountImpersonationUrl: `${clouds.urls.google}/v1/projects/-/serviceAccounts/${sa}:generateAccessToken` });
const failure = (p: Promise<unknown>) => p.then(() => expect.fail("expected a failure"), (e: unknown) => e as KeylessError);

describe("keyless/gcp errors name the step and the binding or condition to fix", () => {
  it("a missing roles/iam.workloadIdentityUser binding: ERR_IMPERSONATION_DENIED with the exact member and the caller's ARN", async () => {
    const error = await failure(new AwsWorkloadClient({ audience: awsAudience(), ...urls(UNBOUND), ...fast }).getAccessToken());
    expect(error).toMatchObject({ code: "ERR_IMPERSONATION_DENIED", step: "google-impersonation", status: 403 });
    expect(error.hint).toContain(`roles/iam.workloadIdentityUser on ${UNBOUND}`);
    expect(error.hint).toContain(`principalSet://iam.googleapis.com/${pool}/attribute.aws_role/arn:aws:sts::111122223333:assumed-role/keyless-workload`);
    expect(error.details).toMatchObject({ caller: "arn:aws:sts::111122223333:assumed-role/keyless-workload/keyless-lambda" });
    expect(clouds.instrumentation.count("google.iam.generateAccessToken")).toBe(1);
  });

  it("an attribute condition that rejects the caller: unauthorized_client, not retried", async () => {
    const error = await failure(new AwsWorkloadClient({ audience: CONDITIONED, ...urls(), ...fast }).getAccessToken());
    expect(error).toMatchObject({ code: "ERR_GOOGLE_STS_REJECTED", upstreamCode: "unauthorized_client", step: "google-sts" });
    expect(error.hint).toContain("attribute condition");
    expect(error.hint).toContain("arn:aws:sts::111122223333:assumed-role/keyless-workload/keyless-lambda");
    expect(clouds.instrumentation.count("google.sts.token")).toBe(1);
  });

  it("an unknown pool provider: invalid_target with the audience to check", async () => {
    const error = await failure(new AwsWorkloadClient({ audience: `//iam.googleapis.com/${pool}/providers/nope`, ...urls(), ...fast }).getAccessToken());
    expect(error).toMatchObject({ code: "ERR_GOOGLE_STS_REJECTED", upstreamCode: "invalid_target" });
    expect(error.hint).toContain("/providers/nope");
  });

  it("an Azure token for the wrong audience: invalid_grant that says so", async () => {
    const error = await failure(new AzureWorkloadClient({ audience: clouds.scenario.google.pools[1]!.audience, resource: "api://something-else", ...urls(), ...fast }).getAccessToken());
    expect(error).toMatchObject({ code: "ERR_GOOGLE_STS_REJECTED", upstreamCode: "invalid_grant" });
    expect(error.hint).toContain("allowed audiences");
  });

  it("Google STS and IAM Credentials 5xx are retried", async () => {
    clouds.instrumentation.inject("google.sts.token", { status: 503, body: "{}" });
    clouds.instrumentation.inject("google.iam.generateAccessToken", { status: 500, body: "{}" });
    await new AwsWorkloadClient({ audience: awsAudience(), ...urls(), ...fast }).getAccessToken();
    expect(clouds.instrumentation.count("google.sts.token")).toBe(3); // 503, then success; then again after the IAM 500 (a fresh exchange)
    expect(clouds.instrumentation.count("google.iam.generateAccessToken")).toBe(2);
  });

  it("a request signed more than 15 minutes ago is rejected (the signature is built right before each exchange)", async () => {
    const error = await failure(
      new AwsWorkloadClient({ audience: awsAudience(), ...urls(), ...fast, awsCredentials: async () => ({ accessKeyId: "ASIAUNKNOWNKEY000000", secretAccessKey: "x".repeat(40), sessionToken: "t" }) }).getAccessToken(),
    );
    expect(error).toMatchObject({ code: "ERR_GOOGLE_STS_REJECTED", upstreamCode: "invalid_grant" });
  });

  it("no AWS credentials: ERR_AWS_CREDENTIALS naming what to attach", async () => {
    const restore = withEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://127.0.0.1:9" });
    try {
      const error = await failure(new AwsWorkloadClient({ audience: awsAudience(), ...urls(), ...fast, connectTimeoutMs: 200, timeoutMs: 500 }).getAccessToken());
      expect(error.code === "ERR_AWS_CREDENTIALS" || error.code === "ERR_NO_REGION").toBe(true);
      expect(error.hint).toBeTruthy();
    } finally {
      restore();
    }
  });

  it("no token or key appears in errors or in util.inspect of the client", async () => {
    const client = new AwsWorkloadClient({ audience: awsAudience(), ...urls() });
    await client.getAccessToken();
    const error = await failure(new AwsWorkloadClient({ audience: awsAudience(), ...urls(UNBOUND), ...fast }).getAccessToken());
    const text = [inspect(client, { depth: 5 }), JSON.stringify(client), inspect(error), String(error), error.hint ?? "", JSON.stringify(error.details)].join("\n");
    for (const secret of clouds.secrets()) expect(text).not.toContain(secret);
    for (const token of clouds.googleTokens.keys()) expect(text).not.toContain(token);
  });

  it("bad options fail at construction", () => {
    expect(() => new AwsWorkloadClient({ audience: "projects/1/pools/x" })).toThrow(expect.objectContaining({ code: "ERR_CONFIG" }));
    expect(() => new AwsWorkloadClient({ audience: awsAudience(), tokenLifetimeSeconds: 100 })).toThrow(expect.objectContaining({ code: "ERR_CONFIG" }));
    expect(() => new AwsWorkloadClient({ audience: awsAudience(), serviceAccount: "not an email" })).toThrow(expect.objectContaining({ code: "ERR_CONFIG" }));
    expect(clouds.instrumentation.count()).toBe(0);
  });
});
