/** The six directions as the fault, soak and secrets suites drive them: the credential, its upstreams, how to call it. */
import * as aws from "../../src/aws/index.js";
import * as gcp from "../../src/gcp/index.js";
import * as azure from "../../src/azure/index.js";
import type { CommonCredentialOptions } from "../../src/core/options.js";
import type { EmulatedClouds } from "../../src/testing/index.js";

export interface Direction {
  name: string;
  /** Upstream endpoints in the order the direction calls them. */
  upstreams: string[];
  /** Builds the credential and returns a function fetching one value and its expiry (epoch ms). */
  make: (clouds: EmulatedClouds, options: CommonCredentialOptions) => { get: () => Promise<{ expiresAt: number; secret: string }>; object: unknown };
}

const SCOPE = "https://storage.azure.com/.default";

export function awsCredentialsFor(clouds: EmulatedClouds) {
  // Fresh role credentials on the emulated clock, as a provider (Lambda-style: no upstream of their own).
  return async () => {
    const role = clouds.scenario.aws.workloadRoleArn.split("/").pop();
    const c = clouds.awsKeys.issue(`arn:aws:sts::${clouds.scenario.aws.accountId}:assumed-role/${role}/keyless-test`, clouds.scenario.aws.accountId, clouds.clock.now() + 3600_000);
    return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken ?? "", expiration: new Date(c.expiresAt) };
  };
}

export const DIRECTIONS: Direction[] = [
  {
    name: "GCP → AWS",
    upstreams: ["gcp.metadata.identity", "aws.sts.AssumeRoleWithWebIdentity"],
    make: (_clouds, o) => {
      const p = aws.fromGcpWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-gcp", region: "us-east-1", ...o });
      return { object: p, get: async () => { const c = await p(); return { expiresAt: c.expiration.getTime(), secret: c.secretAccessKey }; } };
    },
  },
  {
    name: "Azure → AWS",
    upstreams: ["azure.imds.token", "aws.sts.AssumeRoleWithWebIdentity"],
    make: (_clouds, o) => {
      const p = aws.fromAzureWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-azure", resource: "api://keyless-aws", region: "us-east-1", ...o });
      return { object: p, get: async () => { const c = await p(); return { expiresAt: c.expiration.getTime(), secret: c.secretAccessKey }; } };
    },
  },
  {
    name: "AWS → GCP",
    upstreams: ["google.sts.token", "google.iam.generateAccessToken"],
    make: (clouds, o) => {
      const sa = clouds.scenario.google.serviceAccounts[0]!.email;
      const c = new gcp.AwsWorkloadClient({ audience: clouds.scenario.google.pools[0]!.audience, tokenUrl: `${clouds.urls.google}/v1/token`, serviceAccountImpersonationUrl: `${clouds.urls.google}/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`, region: "us-east-1", awsCredentials: awsCredentialsFor(clouds), ...o });
      return { object: c, get: async () => { const t = await c.getAccessToken(); return { expiresAt: c.credentials.expiry_date ?? 0, secret: t.token }; } };
    },
  },
  {
    name: "Azure → GCP",
    upstreams: ["azure.imds.token", "google.sts.token", "google.iam.generateAccessToken"],
    make: (clouds, o) => {
      const sa = clouds.scenario.google.serviceAccounts[0]!.email;
      const c = new gcp.AzureWorkloadClient({ audience: clouds.scenario.google.pools[1]!.audience, resource: "api://keyless-gcp", tokenUrl: `${clouds.urls.google}/v1/token`, serviceAccountImpersonationUrl: `${clouds.urls.google}/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`, ...o });
      return { object: c, get: async () => { const t = await c.getAccessToken(); return { expiresAt: c.credentials.expiry_date ?? 0, secret: t.token }; } };
    },
  },
  {
    name: "GCP → Azure",
    upstreams: ["gcp.metadata.identity", "azure.entra.token"],
    make: (clouds, o) => {
      const c = azure.fromGcpWorkload({ tenantId: clouds.scenario.azure.tenantId, clientId: clouds.scenario.entra.applications[0]!.clientId, ...o });
      return { object: c, get: async () => { const t = await c.getToken(SCOPE); return { expiresAt: t.expiresOnTimestamp, secret: t.token }; } };
    },
  },
  {
    name: "AWS → Azure",
    upstreams: ["aws.cognito.GetOpenIdTokenForDeveloperIdentity", "azure.entra.token"],
    make: (clouds, o) => {
      const pool = clouds.scenario.cognito.pools[0]!;
      const c = azure.fromAwsWorkload({ tenantId: clouds.scenario.azure.tenantId, clientId: clouds.scenario.entra.applications[0]!.clientId, identityPoolId: pool.identityPoolId, developerProviderName: pool.developerProviderName, awsCredentials: awsCredentialsFor(clouds), ...o });
      return { object: c, get: async () => { const t = await c.getToken(SCOPE); return { expiresAt: t.expiresOnTimestamp, secret: t.token }; } };
    },
  },
];
