/**
 * keyless/gcp: google-auth-library `AuthClient`s for `new Storage({ authClient })`,
 * `new BigQuery({ authClient })` and every `@google-cloud/*` client, for workloads that run on AWS
 * or Azure, through Workload Identity Federation.
 * @module gcp
 */
export { AwsWorkloadClient, fromAwsWorkload } from "./aws-workload-client.js";
export type { AwsWorkloadOptions } from "./aws-workload-client.js";
export { AzureWorkloadClient, fromAzureWorkload } from "./azure-workload-client.js";
export type { AzureWorkloadOptions } from "./azure-workload-client.js";
export { fromCredentialConfig } from "./credential-config.js";
export type { CredentialConfigOptions } from "./credential-config.js";
export { WorkloadIdentityClient } from "./workload-identity-client.js";
export type { WorkloadIdentityOptions, SubjectToken } from "./workload-identity-client.js";
export { KeylessAuthClient } from "./keyless-auth-client.js";
export type { GoogleClientOptions } from "./keyless-auth-client.js";
export { KeylessError, isKeylessError } from "../core/errors.js";
export type { KeylessErrorCode } from "../core/errors.js";
