/**
 * keyless: cross-cloud workload identity for the AWS, Google Cloud and Azure SDKs, with no stored
 * secret. The root entry holds what every direction shares: errors, token sources and the refresh
 * core. The credentials live in `keyless/aws`, `keyless/gcp` and `keyless/azure`.
 * @module keyless
 */
export { KeylessError, isKeylessError, redact } from "./core/errors.js";
export type { KeylessErrorCode, KeylessErrorOptions } from "./core/errors.js";
export { RefreshingCache } from "./core/refresh.js";
export type { Expiring, FetchContext, GetOptions, RefreshEvent, RefreshOptions, RetryOptions } from "./core/refresh.js";
export type { Clock } from "./core/clock.js";
export type { TransportOptions } from "./core/http.js";
export type { CommonCredentialOptions } from "./core/options.js";
export { decodeJwt } from "./core/jwt.js";
export type { JwtClaims } from "./core/jwt.js";
export { gcpIdentityToken } from "./sources/gcp-metadata.js";
export type { GcpIdentityTokenOptions } from "./sources/gcp-metadata.js";
export { azureManagedIdentityToken, detectAzureManagedIdentity } from "./sources/azure-managed-identity.js";
export type { AzureManagedIdentityOptions, AzureManagedIdentityKind } from "./sources/azure-managed-identity.js";
export { tokenFile } from "./sources/token-file.js";
export { cognitoDeveloperToken } from "./sources/cognito.js";
export type { CognitoDeveloperTokenOptions } from "./sources/cognito.js";
export { awsWebIdentityToken } from "./sources/aws-web-identity-token.js";
export type { AwsWebIdentityTokenOptions } from "./sources/aws-web-identity-token.js";
export type { TokenSource, TokenRequest } from "./sources/types.js";
