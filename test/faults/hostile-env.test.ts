import { describe, expect, it } from "vitest";
import { fromGcpWorkload as awsFromGcp, fromAzureWorkload as awsFromAzure } from "../../src/aws/index.js";
import { fromAwsWorkload as azureFromAws, fromGcpWorkload as azureFromGcp } from "../../src/azure/index.js";
import { AzureWorkloadClient } from "../../src/gcp/index.js";
import { clearSharedCaches } from "../../src/core/refresh.js";
import { withEnv } from "../env.js";

// Endpoints from the environment or options are the deployer's: trusted to name other https hosts,
// never to send credentials over plain http to anything but loopback and the metadata addresses.
// (Only .example names here: nothing leaves this machine even if a check were missing.)
const ROLE = "arn:aws:iam::111122223333:role/r";
const AUDIENCE = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q";
const TENANT = "8a1f0c5e-4b6d-4e2a-9c3b-7d5e6f708192";
const CLIENT = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";
const refused = expect.objectContaining({ code: "ERR_ENDPOINT_NOT_ALLOWED" });

async function rejects(env: Record<string, string | undefined>, run: () => Promise<unknown> | unknown) {
  const restore = withEnv(env);
  clearSharedCaches();
  try {
    await expect((async () => run())()).rejects.toEqual(refused);
  } finally {
    restore();
  }
}

describe("hostile endpoints in the environment are refused before any request", () => {
  it("AWS_ENDPOINT_URL_STS over http to a remote host", () => rejects({ AWS_ENDPOINT_URL_STS: "http://sts.evil.example" }, () => awsFromGcp({ roleArn: ROLE, region: "us-east-1" })));
  it("AWS_ENDPOINT_URL over http", () => rejects({ AWS_ENDPOINT_URL_STS: undefined, AWS_ENDPOINT_URL: "http://aws.evil.example" }, () => awsFromGcp({ roleArn: ROLE, region: "us-east-1" })));
  it("GCE_METADATA_HOST naming a remote host", () => rejects({ GCE_METADATA_HOST: "metadata.evil.example", AWS_ENDPOINT_URL_STS: undefined }, () => awsFromGcp({ roleArn: ROLE, region: "us-east-1", retry: { maxAttempts: 1 } })()));
  it("GCE_METADATA_HOST smuggling credentials or a path", () => rejects({ GCE_METADATA_HOST: "user:pw@metadata.evil.example", AWS_ENDPOINT_URL_STS: undefined }, () => awsFromGcp({ roleArn: ROLE, region: "us-east-1", retry: { maxAttempts: 1 } })()));
  it("AZURE_POD_IDENTITY_AUTHORITY_HOST over http to a remote host", () => rejects({ AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://imds.evil.example", IDENTITY_ENDPOINT: undefined, AWS_ENDPOINT_URL_STS: undefined }, () => awsFromAzure({ roleArn: ROLE, resource: "api://x", region: "us-east-1", retry: { maxAttempts: 1 } })()));
  it("IDENTITY_ENDPOINT over http to a remote host", () => rejects({ IDENTITY_ENDPOINT: "http://identity.evil.example/msi/token", IDENTITY_HEADER: "h", AWS_ENDPOINT_URL_STS: undefined }, () => new AzureWorkloadClient({ audience: AUDIENCE, resource: "api://x", retry: { maxAttempts: 1 } }).getAccessToken()));
  it("AZURE_AUTHORITY_HOST over http", () => rejects({ AZURE_AUTHORITY_HOST: "http://login.evil.example" }, () => azureFromGcp({ tenantId: TENANT, clientId: CLIENT })));
  it("AWS_ENDPOINT_URL_COGNITO_IDENTITY over http", () => rejects({ AWS_ENDPOINT_URL_COGNITO_IDENTITY: "http://cognito.evil.example" }, () => azureFromAws({ tenantId: TENANT, clientId: CLIENT, identityPoolId: "us-east-1:7c1f0a3e-2b4d-4f6a-9e8c-1d2e3f4a5b6c", developerProviderName: "p" })));

  it("a deployer's https endpoints are trusted (private endpoints, proxies)", () => {
    const restore = withEnv({ AWS_ENDPOINT_URL_STS: "https://sts.private.example", AZURE_AUTHORITY_HOST: "https://login.private.example", AWS_ENDPOINT_URL_COGNITO_IDENTITY: "https://cognito.private.example" });
    try {
      expect(typeof awsFromGcp({ roleArn: ROLE, region: "us-east-1" })).toBe("function");
      expect(azureFromGcp({ tenantId: TENANT, clientId: CLIENT }).authorityHost).toBe("https://login.private.example");
    } finally {
      restore();
    }
  });

  it("oversized and malformed values are refused with ERR_CONFIG", () => {
    expect(() => awsFromGcp({ roleArn: `arn:aws:iam::111122223333:role/${"x".repeat(600)}` })).toThrow(expect.objectContaining({ code: "ERR_CONFIG" }));
    expect(() => awsFromGcp({ roleArn: ROLE, audience: "a".repeat(2_000) })).toThrow(expect.objectContaining({ code: "ERR_CONFIG" }));
    expect(() => azureFromGcp({ tenantId: "../../etc", clientId: CLIENT })).toThrow(expect.objectContaining({ code: "ERR_CONFIG" }));
  });
});
