/**
 * keyless/azure: `TokenCredential`s for `new BlobServiceClient(url, credential)` and every Azure
 * SDK client, for workloads that run on Google Cloud or AWS (or hold any OIDC token), through Entra
 * ID federated identity credentials.
 * @module azure
 */
export { fromGcpWorkload } from "./from-gcp-workload.js";
export type { FromGcpWorkloadOptions } from "./from-gcp-workload.js";
export { fromAwsWorkload } from "./from-aws-workload.js";
export type { FromAwsWorkloadOptions, FromAwsWorkloadCognitoOptions, FromAwsWorkloadStsOptions } from "./from-aws-workload.js";
export { FederatedCredential } from "./federated-credential.js";
export type { FederatedCredentialOptions, EntraOptions } from "./federated-credential.js";
export { KeylessError, isKeylessError } from "../core/errors.js";
export type { KeylessErrorCode } from "../core/errors.js";
