import { describe, expect, it } from "vitest";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { fromAzureWorkload, fromGcpWorkload, type KeylessAwsCredentialProvider } from "../../src/aws/index.js";
import { clearSharedCaches } from "../../src/core/refresh.js";
import { decodeJwt } from "../../src/core/jwt.js";
import { withEnv } from "../env.js";
import { useEmulatedClouds } from "../clouds.js";

const ctx = useEmulatedClouds();

const GCP_ROLE = "arn:aws:iam::111122223333:role/keyless-from-gcp";
const AZURE_ROLE = "arn:aws:iam::111122223333:role/keyless-from-azure";

function s3(credentials: KeylessAwsCredentialProvider): S3Client {
  return new S3Client({ region: "us-east-1", endpoint: ctx.clouds.urls.s3, forcePathStyle: true, credentials, maxAttempts: 1 });
}

async function roundTrip(client: S3Client, bucket: string): Promise<string> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: "hello.txt", Body: "hello from keyless" }));
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "hello.txt" }));
  return (await got.Body?.transformToString()) ?? "";
}

describe("keyless/aws end to end with the real S3Client", () => {
  it("GCP → AWS: puts and gets an object with keys STS issued for the Google ID token", async () => {
    const client = s3(fromGcpWorkload({ roleArn: GCP_ROLE }));
    expect(await roundTrip(client, "from-gcp")).toBe("hello from keyless");

    const counts = ctx.clouds.instrumentation.counts();
    expect(counts["gcp.metadata.identity"]).toBe(1);
    expect(counts["aws.sts.AssumeRoleWithWebIdentity"]).toBe(1);
    expect(counts["aws.s3.PutObject"]).toBe(1);
    // Every S3 request was signed with the one key STS issued for the role session.
    const keys = new Set(ctx.clouds.s3Signers.accessKeyIds.slice(-3));
    expect(keys.size).toBe(1);
    const issued = ctx.clouds.awsKeys.get([...keys][0] ?? "");
    expect(issued?.arn).toMatch(/^arn:aws:sts::111122223333:assumed-role\/keyless-from-gcp\/keyless-/);
  });

  it("GCP → AWS: the ID token asked of the metadata server carries aud sts.amazonaws.com and azp/sub = the service account id", async () => {
    const provider = fromGcpWorkload({ roleArn: GCP_ROLE, region: "us-east-1" });
    const credentials = await provider();
    expect(credentials.accountId).toBe("111122223333");
    expect(credentials.expiration.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
    const token = ctx.clouds.secrets().find((s) => s.startsWith("eyJ") && decodeJwt(s).aud === "sts.amazonaws.com");
    expect(token).toBeDefined();
    const claims = decodeJwt(token ?? "");
    expect(claims).toMatchObject({ iss: "https://accounts.google.com", azp: ctx.clouds.scenario.gcp.serviceAccountUniqueId, sub: ctx.clouds.scenario.gcp.serviceAccountUniqueId, email: ctx.clouds.scenario.gcp.serviceAccountEmail });
  });

  it("Azure → AWS (VM IMDS): puts and gets an object", async () => {
    const client = s3(fromAzureWorkload({ roleArn: AZURE_ROLE, resource: "api://keyless-aws" }));
    expect(await roundTrip(client, "from-azure")).toBe("hello from keyless");
    expect(ctx.clouds.instrumentation.count("azure.imds.token")).toBe(1);
    expect(ctx.clouds.instrumentation.count("aws.sts.AssumeRoleWithWebIdentity")).toBe(1);
  });

  it("Azure → AWS (App Service identity endpoint): puts and gets an object", async () => {
    const restore = withEnv(ctx.clouds.appServiceEnv);
    try {
      const client = s3(fromAzureWorkload({ roleArn: AZURE_ROLE, resource: "api://keyless-aws" }));
      expect(await roundTrip(client, "from-app-service")).toBe("hello from keyless");
      expect(ctx.clouds.instrumentation.count("azure.appservice.token")).toBe(1);
      expect(ctx.clouds.instrumentation.count("azure.imds.token")).toBe(0);
    } finally {
      restore();
    }
  });

  it("1,000 concurrent send()s on a cold client cause one metadata fetch and one STS call", async () => {
    const client = s3(fromGcpWorkload({ roleArn: GCP_ROLE }));
    await client.send(new CreateBucketCommand({ Bucket: "concurrent" })).catch(() => undefined);
    clearSharedCaches();
    ctx.clouds.instrumentation.resetCounts();
    const cold = s3(fromGcpWorkload({ roleArn: GCP_ROLE }));
    await Promise.all(Array.from({ length: 1_000 }, (_, i) => cold.send(new PutObjectCommand({ Bucket: "concurrent", Key: `k${i}`, Body: "x" }))));
    expect(ctx.clouds.instrumentation.count("gcp.metadata.identity")).toBe(1);
    expect(ctx.clouds.instrumentation.count("aws.sts.AssumeRoleWithWebIdentity")).toBe(1);
    expect(ctx.clouds.instrumentation.count("aws.s3.PutObject")).toBe(1_000);
  });

  it("a provider built per request shares one cache: 50 providers, one exchange", async () => {
    for (let i = 0; i < 50; i++) await fromGcpWorkload({ roleArn: GCP_ROLE, region: "us-east-1" })();
    expect(ctx.clouds.instrumentation.count("aws.sts.AssumeRoleWithWebIdentity")).toBe(1);
  });

  it("takes the STS region from the calling client when no region is configured", async () => {
    const restore = withEnv({ AWS_REGION: undefined });
    try {
      const provider = fromGcpWorkload({ roleArn: GCP_ROLE });
      await expect(provider()).rejects.toMatchObject({ code: "ERR_CONFIG" });
      const creds = await provider({ callerClientConfig: { region: async () => "eu-west-1" } } as Parameters<typeof provider>[0]);
      expect(creds.accessKeyId).toMatch(/^ASIA/);
    } finally {
      restore();
    }
  });
});
