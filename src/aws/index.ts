/**
 * keyless/aws: `AwsCredentialIdentityProvider`s for every AWS SDK v3 client, for workloads that
 * run on Google Cloud or Azure (or hold any OIDC token), through STS `AssumeRoleWithWebIdentity`.
 * @module aws
 */
export { fromGcpWorkload } from "./from-gcp-workload.js";
export type { FromGcpWorkloadOptions } from "./from-gcp-workload.js";
export { fromAzureWorkload } from "./from-azure-workload.js";
export type { FromAzureWorkloadOptions } from "./from-azure-workload.js";
export { fromWebIdentity } from "./from-web-identity.js";
export type { WebIdentityOptions, AssumeRoleOptions, AwsTemporaryCredentials, KeylessAwsCredentialProvider } from "./from-web-identity.js";
export { KeylessError, isKeylessError } from "../core/errors.js";
export type { KeylessErrorCode } from "../core/errors.js";
