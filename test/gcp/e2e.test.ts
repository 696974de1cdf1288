import { describe, expect, it } from "vitest";
import { Storage } from "@google-cloud/storage";
import { BigQuery } from "@google-cloud/bigquery";
import { AwsWorkloadClient, AzureWorkloadClient, type KeylessAuthClient } from "../../src/gcp/index.js";
import { withEnv } from "../env.js";
import { useEmulatedClouds } from "../clouds.js";

const AWS_SOURCE_VARS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"];
const ctx = useEmulatedClouds({}, (c) => ({ ...Object.fromEntries(AWS_SOURCE_VARS.map((v) => [v, undefined])), ...c.env, AWS_REGION: undefined, AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent" }));

const TARGET = "keyless-target@keyless-demo.iam.gserviceaccount.com";
const awsAudience = () => ctx.clouds.scenario.google.pools[0]!.audience;
const azureAudience = () => ctx.clouds.scenario.google.pools[1]!.audience;
const endpoints = () => ({ tokenUrl: `${ctx.clouds.urls.google}/v1/token`, serviceAccountImpersonationUrl: `${ctx.clouds.urls.google}/v1/projects/-/serviceAccounts/${TARGET}:generateAccessToken` });

async function listAndQuery(authClient: KeylessAuthClient): Promise<{ files: string[]; principal: unknown }> {
  const storage = new Storage({ authClient, apiEndpoint: ctx.clouds.urls.google, useAuthWithCustomEndpoint: true, projectId: "keyless-demo" });
  const [files] = await storage.bucket("keyless-demo-bucket").getFiles();
  const bigquery = new BigQuery({ authClient, apiEndpoint: ctx.clouds.urls.google, projectId: "keyless-demo" });
  const [rows] = await bigquery.query("SELECT 42 AS answer");
  return { files: files.map((f) => f.name), principal: (rows[0] as { principal?: unknown } | undefined)?.principal };
}

describe("keyless/gcp end to end with the real @google-cloud/storage and @google-cloud/bigquery clients", () => {
  it("extends the google-auth-library this project resolves (10 in the google-auth-library@10 project, else 11)", async () => {
    const v10 = (await import("google-auth-library-v10")).AuthClient;
    const client = new AwsWorkloadClient({ audience: awsAudience() });
    expect(client instanceof v10).toBe(process.env["KEYLESS_EXPECT_GAL"] === "10");
    expect(client).toBeInstanceOf((await import("google-auth-library")).AuthClient);
  });

  it.each([
    ["environment credentials, as on Lambda", () => ctx.clouds.lambdaEnv(), { "aws.imds.credentials": 0, "aws.container.credentials": 0 }],
    ["the container endpoint, as on ECS", () => ({ ...ctx.clouds.containerEnv, AWS_REGION: "us-east-1" }), { "aws.container.credentials": 1, "aws.imds.credentials": 0 }],
    ["IMDSv2, as on EC2 (region from IMDS)", () => ({}), { "aws.imds.credentials": 1, "aws.imds.region": 1 }],
  ] as const)("AWS → GCP with %s: lists objects and runs a query as the impersonated service account", async (_name, env, expectedCounts) => {
    const restore = withEnv(env());
    try {
      const client = new AwsWorkloadClient({ audience: awsAudience(), ...endpoints(), projectId: "keyless-demo" });
      const { files, principal } = await listAndQuery(client);
      expect(files).toEqual(["hello.txt"]);
      expect(principal).toBe(TARGET);
      // The emulated APIs saw only keyless's impersonated token: Storage sent credentials to the custom endpoint.
      expect(ctx.clouds.googleApiCallers.length).toBeGreaterThanOrEqual(2);
      expect(new Set(ctx.clouds.googleApiCallers.splice(0))).toEqual(new Set([TARGET]));
      const counts = ctx.clouds.instrumentation.counts();
      expect(counts["google.sts.token"]).toBe(1);
      expect(counts["google.iam.generateAccessToken"]).toBe(1);
      for (const [endpoint, n] of Object.entries(expectedCounts)) expect(counts[endpoint] ?? 0).toBe(n);
      // keyless signs the target-resource header: the audience is integrity-protected.
      expect(ctx.clouds.awsSubjects.at(-1)?.signedHeaders).toContain("x-goog-cloud-target-resource");
    } finally {
      restore();
    }
  });

  it("Azure → GCP (VM IMDS): lists objects and runs a query", async () => {
    const client = new AzureWorkloadClient({ audience: azureAudience(), resource: "api://keyless-gcp", ...endpoints(), projectId: "keyless-demo" });
    const { files, principal } = await listAndQuery(client);
    expect(files).toEqual(["hello.txt"]);
    expect(principal).toBe(TARGET);
    expect(ctx.clouds.instrumentation.count("azure.imds.token")).toBe(1);
    expect(ctx.clouds.instrumentation.count("google.sts.token")).toBe(1);
  });

  it("Azure → GCP (App Service identity endpoint, which url-sourced configs cannot reach)", async () => {
    const restore = withEnv(ctx.clouds.appServiceEnv);
    try {
      const client = new AzureWorkloadClient({ audience: azureAudience(), resource: "api://keyless-gcp", ...endpoints(), projectId: "keyless-demo" });
      const { files } = await listAndQuery(client);
      expect(files).toEqual(["hello.txt"]);
      expect(ctx.clouds.instrumentation.count("azure.appservice.token")).toBe(1);
    } finally {
      restore();
    }
  });

  it("without a service account, the federated token is used directly", async () => {
    const restore = withEnv(ctx.clouds.lambdaEnv());
    try {
      const client = new AwsWorkloadClient({ audience: awsAudience(), tokenUrl: `${ctx.clouds.urls.google}/v1/token` });
      const { token } = await client.getAccessToken();
      expect(ctx.clouds.googleTokens.get(token)?.kind).toBe("federated");
      expect(ctx.clouds.instrumentation.count("google.iam.generateAccessToken")).toBe(0);
    } finally {
      restore();
    }
  });

  it("500 concurrent getAccessToken calls on a cold client make one exchange; cached calls make none", async () => {
    const restore = withEnv(ctx.clouds.lambdaEnv());
    try {
      const client = new AwsWorkloadClient({ audience: awsAudience(), ...endpoints() });
      const tokens = await Promise.all(Array.from({ length: 500 }, () => client.getAccessToken()));
      expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
      for (let i = 0; i < 1000; i++) await client.getRequestHeaders();
      expect(ctx.clouds.instrumentation.count("google.sts.token")).toBe(1);
      expect(ctx.clouds.instrumentation.count("google.iam.generateAccessToken")).toBe(1);
      expect(client.credentials.access_token).toBe(tokens[0]?.token);
      expect(client.credentials.expiry_date).toBeGreaterThan(Date.now());
    } finally {
      restore();
    }
  });
});
