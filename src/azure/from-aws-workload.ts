/**
 * @module azure/from-aws-workload
 * An Azure `TokenCredential` for a workload on AWS: a Cognito `GetOpenIdTokenForDeveloperIdentity`
 * token, signed with the workload's AWS credentials, as the Entra client assertion.
 */
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { transportOf } from "../core/options.js";
import { cognitoDeveloperToken } from "../sources/cognito.js";
import { awsWebIdentityToken } from "../sources/aws-web-identity-token.js";
import { FederatedCredential, type EntraOptions } from "./federated-credential.js";

interface AwsSourceOptions extends EntraOptions {
  /** The workload's AWS credentials. Default: the AWS SDK's chain (Lambda environment, ECS/EKS, IMDSv2, ...). */
  awsCredentials?: AwsCredentialIdentityProvider;
}

/** The assertion from Cognito `GetOpenIdTokenForDeveloperIdentity` (the default). */
export interface FromAwsWorkloadCognitoOptions extends AwsSourceOptions {
  assertionSource?: "cognito";
  /** The Cognito identity pool, e.g. `us-east-1:7c1f0a3e-…` (the federated credential's audience). */
  identityPoolId: string;
  /** The pool's developer provider name. */
  developerProviderName: string;
  /** A stable id for this workload within the provider. Default `keyless-workload`. With the pool and provider it fixes the identity id, the federated credential's subject. */
  developerUserId?: string;
  /** The pool's region. Default: from the pool id. */
  region?: string;
  /** Cognito token lifetime, seconds. Default 900. */
  tokenDurationSeconds?: number;
  /** Cognito Identity endpoint. Default `AWS_ENDPOINT_URL_COGNITO_IDENTITY`, else the regional one. */
  cognitoEndpoint?: string;
}

/** The assertion from STS `GetWebIdentityToken` (IAM outbound identity federation, enabled per account). */
export interface FromAwsWorkloadStsOptions extends AwsSourceOptions {
  assertionSource: "sts";
  /** The token's `aud`, and the federated credential's audience. Default `api://AzureADTokenExchange`. */
  audience?: string;
  /** STS region (regional endpoints only). Default `AWS_REGION`. */
  region?: string;
  /** Token lifetime, seconds, 60 to 3600. Default 300. */
  tokenDurationSeconds?: number;
}

export type FromAwsWorkloadOptions = FromAwsWorkloadCognitoOptions | FromAwsWorkloadStsOptions;

/**
 * For `new BlobServiceClient(url, fromAwsWorkload({ tenantId, clientId, identityPoolId, developerProviderName }))`.
 * The application needs a federated credential with issuer `https://cognito-identity.amazonaws.com`,
 * subject = the Cognito identity id, audience = the identity pool id.
 */
export function fromAwsWorkload(options: FromAwsWorkloadOptions): FederatedCredential {
  if (options.assertionSource === "sts") {
    // The federated credential: issuer = the account's outbound issuer URL, subject = the role's ARN.
    const audience = options.audience ?? "api://AzureADTokenExchange";
    const source = awsWebIdentityToken({ ...transportOf(options), audience, ...(options.region ? { region: options.region } : {}), ...(options.tokenDurationSeconds ? { durationSeconds: options.tokenDurationSeconds } : {}), ...(options.awsCredentials ? { awsCredentials: options.awsCredentials } : {}) });
    return new FederatedCredential({ ...options, assertion: source }, { source: "sts-web-identity-token", audience, region: options.region, credentials: options.awsCredentials ?? "chain", endpoint: process.env["AWS_ENDPOINT_URL_STS"] });
  }
  const developerUserId = options.developerUserId ?? "keyless-workload";
  const source = cognitoDeveloperToken({
    ...transportOf(options),
    identityPoolId: options.identityPoolId,
    developerProviderName: options.developerProviderName,
    developerUserId,
    ...(options.region ? { region: options.region } : {}),
    ...(options.tokenDurationSeconds ? { tokenDurationSeconds: options.tokenDurationSeconds } : {}),
    ...(options.awsCredentials ? { awsCredentials: options.awsCredentials } : {}),
    ...(options.cognitoEndpoint ? { endpoint: options.cognitoEndpoint } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return new FederatedCredential({ ...options, assertion: source }, { source: "cognito", pool: options.identityPoolId, provider: options.developerProviderName, developerUserId, region: options.region, credentials: options.awsCredentials ?? "chain", endpoint: options.cognitoEndpoint ?? process.env["AWS_ENDPOINT_URL_COGNITO_IDENTITY"] });
}
