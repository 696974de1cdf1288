/**
 * @module sources/aws-credentials
 * The workload's own AWS credentials and region, for directions that start on AWS: credentials
 * from the AWS SDK's own chain (Lambda environment, ECS/EKS container endpoints, IRSA token file,
 * SSO and profiles, EC2 IMDSv2) or any provider the user passes; region from the environment or
 * IMDS `placement/region`.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { KeylessError } from "../core/errors.js";
import { request, type TransportOptions } from "../core/http.js";

const STEP = "aws-credentials";

/** The user's provider, or the AWS SDK's default chain (loaded on first use). */
export function awsCredentialSource(provider: AwsCredentialIdentityProvider | undefined, transport: TransportOptions): () => Promise<AwsCredentialIdentity> {
  let chain: Promise<AwsCredentialIdentityProvider> | undefined;
  const resolve = provider ?? ((): Promise<AwsCredentialIdentity> => {
    chain ??= import("@aws-sdk/credential-providers").then(({ fromNodeProviderChain }) =>
      fromNodeProviderChain({ timeout: transport.timeoutMs ?? 5_000, maxRetries: 0 } as Parameters<typeof fromNodeProviderChain>[0]),
    );
    return chain.then((p) => p());
  });
  return async () => {
    let credentials: AwsCredentialIdentity;
    try {
      credentials = await resolve();
    } catch (error) {
      throw new KeylessError("ERR_AWS_CREDENTIALS", `Could not get this workload's AWS credentials: ${error instanceof Error ? error.message : String(error)}`, {
        step: STEP,
        cause: error,
        retryable: true,
        maxAttempts: 2,
        hint: "Run on AWS with a role attached (Lambda, ECS/EKS, EC2 instance profile; on EC2 containers check the IMDSv2 hop limit is at least 2), or pass awsCredentials.",
      });
    }
    if (!credentials?.accessKeyId || !credentials.secretAccessKey) {
      throw new KeylessError("ERR_AWS_CREDENTIALS", "The AWS credential provider returned no keys.", { step: STEP });
    }
    return credentials;
  };
}

export interface AwsRegionOptions extends TransportOptions {
  /** Explicit region. */
  region?: string;
  /** IMDS base URL. Default `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://169.254.169.254`. */
  imdsEndpoint?: string;
  /** An availability-zone URL (from a gcloud config's `region_url`), used only if IMDS has no `placement/region`. */
  availabilityZoneUrl?: string;
}

/**
 * The workload's region: option, `AWS_REGION`, `AWS_DEFAULT_REGION`, else IMDSv2 `placement/region`
 * (the zone minus its last letter is wrong in Local Zones, so it is only a fallback).
 */
export async function awsRegion(options: AwsRegionOptions): Promise<string> {
  const fromEnv = options.region || process.env["AWS_REGION"] || process.env["AWS_DEFAULT_REGION"];
  if (fromEnv) return fromEnv;
  const step = "aws-region";
  const base = options.imdsEndpoint ?? process.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254";
  const transport = { ...options, connectTimeoutMs: options.connectTimeoutMs ?? 1_000, timeoutMs: options.timeoutMs ?? 3_000 };
  try {
    const token = await request({ ...transport, url: new URL("/latest/api/token", base), method: "PUT", headers: { "x-aws-ec2-metadata-token-ttl-seconds": "21600" }, step });
    if (token.status !== 200) throw new KeylessError("ERR_TOKEN_SOURCE", `IMDS refused a session token (HTTP ${token.status}).`, { step, status: token.status, retryable: token.status >= 500 });
    const headers = { "x-aws-ec2-metadata-token": token.body.toString("utf8").trim() };
    const region = await request({ ...transport, url: new URL("/latest/meta-data/placement/region", base), headers, step });
    if (region.status === 200) return region.body.toString("utf8").trim();
    if (region.status === 404 && options.availabilityZoneUrl !== undefined) {
      const zone = await request({ ...transport, url: options.availabilityZoneUrl, headers, step });
      if (zone.status === 200) return zone.body.toString("utf8").trim().replace(/[a-z]$/, "");
    }
    throw new KeylessError("ERR_TOKEN_SOURCE", `IMDS has no placement/region (HTTP ${region.status}).`, { step, status: region.status, retryable: region.status >= 500 });
  } catch (error) {
    throw new KeylessError("ERR_NO_REGION", "No AWS region: AWS_REGION and AWS_DEFAULT_REGION are unset and IMDS did not say.", {
      step,
      cause: error,
      retryable: error instanceof KeylessError && error.retryable,
      hint: "Set AWS_REGION (Lambda and ECS set it for you) or pass region. In a container on EC2, IMDSv2 needs a hop limit of at least 2.",
    });
  }
}
