import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExternalAccountClient } from "google-auth-library";
import { AwsWorkloadClient, AzureWorkloadClient, fromCredentialConfig, WorkloadIdentityClient, type KeylessError } from "../../src/gcp/index.js";
import { withEnv } from "../env.js";
import { useEmulatedClouds } from "../clouds.js";

const ctx = useEmulatedClouds({}, (c) => ({ ...c.env, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent" }));
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "keyless-config-"));
});

const allow = () => ({ allowEndpoints: [ctx.clouds.urls.google, ctx.clouds.urls.awsMetadata, ctx.clouds.urls.azureMetadata] });
const TARGET = "keyless-target@keyless-demo.iam.gserviceaccount.com";

describe("fromCredentialConfig: the files gcloud writes", () => {
  it("an AWS config (gcloud create-cred-config --aws) gives an AwsWorkloadClient that impersonates", async () => {
    const client = fromCredentialConfig(ctx.clouds.gcpCredentialConfig("aws"), allow());
    expect(client).toBeInstanceOf(AwsWorkloadClient);
    const { token } = await client.getAccessToken();
    expect(ctx.clouds.googleTokens.get(token)?.principal).toBe(TARGET);
  });

  it("an Azure url-sourced config gives an AzureWorkloadClient", async () => {
    const client = fromCredentialConfig(ctx.clouds.gcpCredentialConfig("azure"), allow());
    expect(client).toBeInstanceOf(AzureWorkloadClient);
    const { token } = await client.getAccessToken();
    expect(ctx.clouds.googleTokens.get(token)?.principal).toBe(TARGET);
  });

  it("a file-sourced config (Kubernetes or CI OIDC token) reads the file on each exchange, from GOOGLE_APPLICATION_CREDENTIALS", async () => {
    const azure = ctx.clouds.scenario.azure;
    const tokenPath = join(dir, "token.jwt");
    writeFileSync(tokenPath, await ctx.clouds.signAs(`https://sts.windows.net/${azure.tenantId}/`, { aud: "api://keyless-gcp", sub: azure.managedIdentity.objectId }));
    const config = { ...ctx.clouds.gcpCredentialConfig("azure"), credential_source: { file: tokenPath } };
    const configPath = join(dir, "config.json");
    writeFileSync(configPath, JSON.stringify(config));
    const restore = withEnv({ GOOGLE_APPLICATION_CREDENTIALS: configPath });
    try {
      const client = fromCredentialConfig(undefined, allow());
      expect(client).toBeInstanceOf(WorkloadIdentityClient);
      const { token } = await client.getAccessToken();
      expect(ctx.clouds.googleTokens.get(token)?.principal).toBe(TARGET);
    } finally {
      restore();
    }
  });

  it.each([
    ["service_account", { type: "service_account", private_key: "x" }, "ERR_UNSUPPORTED"],
    ["authorized_user", { type: "authorized_user" }, "ERR_UNSUPPORTED"],
    ["workforce pool", { type: "external_account", audience: "//iam.googleapis.com/locations/global/workforcePools/p/providers/q", subject_token_type: "urn:ietf:params:oauth:token-type:jwt", credential_source: { file: "/x" } }, "ERR_UNSUPPORTED"],
    ["executable source", { type: "external_account", audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q", subject_token_type: "urn:ietf:params:oauth:token-type:jwt", credential_source: { executable: { command: "/bin/true" } } }, "ERR_UNSUPPORTED"],
  ])("refuses a %s config with a clear error", (_name, config, code) => {
    expect(() => fromCredentialConfig(config)).toThrow(expect.objectContaining({ code }));
  });
});

describe("hostile credential configs are refused before any request", () => {
  const hostile = (mutate: (c: Record<string, unknown>) => void, kind: "aws" | "azure" = "aws") => {
    const config = structuredClone(ctx.clouds.gcpCredentialConfig(kind)) as Record<string, unknown>;
    // Start from Google's real hosts, as a genuine file has them.
    config["token_url"] = "https://sts.googleapis.com/v1/token";
    config["service_account_impersonation_url"] = `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/${TARGET}:generateAccessToken`;
    const cs = config["credential_source"] as Record<string, unknown>;
    for (const key of ["url", "region_url", "imdsv2_session_token_url"]) if (typeof cs[key] === "string") cs[key] = (cs[key] as string).replace(/^http:\/\/127\.0\.0\.1:\d+/, "http://169.254.169.254");
    mutate(config);
    return config;
  };
  const refuse = (config: Record<string, unknown>, code: string, fragment: string) => {
    let error: KeylessError | undefined;
    try {
      fromCredentialConfig(config);
    } catch (e) {
      error = e as KeylessError;
    }
    expect(error?.code).toBe(code);
    expect(error?.message).toContain(fragment);
    expect(ctx.clouds.instrumentation.count()).toBe(0);
  };

  it("a genuine-looking file passes validation", () => {
    expect(fromCredentialConfig(hostile(() => undefined))).toBeInstanceOf(AwsWorkloadClient);
  });

  it("a foreign token_url", () => refuse(hostile((c) => (c["token_url"] = "https://attacker.example/v1/token")), "ERR_ENDPOINT_NOT_ALLOWED", "attacker.example"));
  it("a token_url that only ends like Google's", () => refuse(hostile((c) => (c["token_url"] = "https://sts.googleapis.com.attacker.example/v1/token")), "ERR_ENDPOINT_NOT_ALLOWED", "token_url"));
  it("an http token_url", () => refuse(hostile((c) => (c["token_url"] = "http://sts.googleapis.com/v1/token")), "ERR_ENDPOINT_NOT_ALLOWED", "token_url"));
  it("a foreign impersonation URL", () => refuse(hostile((c) => (c["service_account_impersonation_url"] = `https://evil.example/v1/projects/-/serviceAccounts/${TARGET}:generateAccessToken`)), "ERR_ENDPOINT_NOT_ALLOWED", "service_account_impersonation_url"));
  it("a foreign AWS credential-source URL", () => refuse(hostile((c) => ((c["credential_source"] as Record<string, unknown>)["url"] = "http://10.0.0.8/latest/meta-data/iam/security-credentials")), "ERR_ENDPOINT_NOT_ALLOWED", "credential_source.url"));
  it("a GetCallerIdentity URL that sends the signed request elsewhere", () => refuse(hostile((c) => ((c["credential_source"] as Record<string, unknown>)["regional_cred_verification_url"] = "https://collector.example/?Action=GetCallerIdentity&Version=2011-06-15")), "ERR_ENDPOINT_NOT_ALLOWED", "regional_cred_verification_url"));
  it("a foreign Azure url source", () => refuse(hostile((c) => ((c["credential_source"] as Record<string, unknown>)["url"] = "https://evil.example/metadata/identity/oauth2/token?resource=x"), "azure"), "ERR_ENDPOINT_NOT_ALLOWED", "credential_source.url"));
  it("an oversized value", () => refuse(hostile((c) => (c["audience"] = `//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/${"x".repeat(10_000)}`)), "ERR_CONFIG", "oversized"));
  it("a malformed audience", () => refuse(hostile((c) => (c["audience"] = "not-an-audience")), "ERR_CONFIG", "audience"));

  it("an oversized file", () => {
    const path = join(dir, "huge.json");
    writeFileSync(path, JSON.stringify({ type: "external_account", padding: "x".repeat(100_000) }));
    refuse(path as unknown as Record<string, unknown>, "ERR_CONFIG", "bytes");
  });

  it("allowEndpoints admits a deployer's own origin, but never plain http to a remote host", () => {
    expect(fromCredentialConfig(hostile((c) => (c["token_url"] = "https://sts.private.example/v1/token")), { allowEndpoints: ["https://sts.private.example"] })).toBeInstanceOf(AwsWorkloadClient);
    expect(() => fromCredentialConfig(hostile((c) => (c["token_url"] = "http://sts.private.example/v1/token")), { allowEndpoints: ["http://sts.private.example"] })).toThrow(expect.objectContaining({ code: "ERR_ENDPOINT_NOT_ALLOWED" }));
  });

  it("Google's regional and Private Service Connect hosts are accepted", () => {
    for (const host of ["sts.us-east7.rep.googleapis.com", "sts-xyz.p.googleapis.com", "sts.mtls.googleapis.com"]) {
      expect(fromCredentialConfig(hostile((c) => (c["token_url"] = `https://${host}/v1/token`)))).toBeInstanceOf(AwsWorkloadClient);
    }
  });
});

describe("golden: the emulated Google STS accepts keyless's subject token and google-auth-library's from the same credentials", () => {
  it("both are accepted; only keyless's signs x-goog-cloud-target-resource", async () => {
    const restore = withEnv(ctx.clouds.lambdaEnv());
    try {
      const config = ctx.clouds.gcpCredentialConfig("aws");
      const gal = ExternalAccountClient.fromJSON(config as never);
      const galToken = (await gal!.getAccessToken()).token;
      const galSubject = ctx.clouds.awsSubjects.at(-1);
      const ours = fromCredentialConfig(config, allow());
      const ourToken = (await ours.getAccessToken()).token;
      const ourSubject = ctx.clouds.awsSubjects.at(-1);
      expect(ctx.clouds.googleTokens.get(galToken!)?.principal).toBe(TARGET);
      expect(ctx.clouds.googleTokens.get(ourToken)?.principal).toBe(TARGET);
      // Same AWS identity (the Lambda environment credentials) behind both.
      expect(ourSubject?.arn).toBe(galSubject?.arn);
      expect(galSubject?.signedHeaders).not.toContain("x-goog-cloud-target-resource");
      expect(ourSubject?.signedHeaders).toEqual(expect.arrayContaining(["host", "x-amz-date", "x-amz-security-token", "x-goog-cloud-target-resource"]));
    } finally {
      restore();
    }
  });
});
