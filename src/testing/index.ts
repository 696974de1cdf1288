/**
 * keyless/testing: emulated AWS, Google Cloud and Azure identity planes on loopback, for testing
 * code that uses keyless (or the vendor SDKs) without a cloud account.
 * @module testing
 */
export { startEmulatedClouds, defaultScenario } from "./clouds.js";
export type { EmulatedClouds, EmulatedCloudsOptions, EmulatedEnvironment, Scenario } from "./clouds.js";
export type { AwsScenario, AwsRole, AwsTrustStatement, AwsOidcProvider } from "./aws.js";
export type { GcpScenario } from "./gcp.js";
export type { GoogleScenario, GcpPoolProvider, GcpTargetServiceAccount, GoogleTokenInfo, AwsSubjectRecord } from "./google.js";
export type { AzureScenario, AzureManagedIdentity } from "./azure.js";
export { Instrumentation } from "./service.js";
export type { Fault } from "./service.js";
export { Issuer, IssuerRegistry, TokenVerificationError } from "./issuer.js";
export { ManualClock } from "./manual-clock.js";
export { createTestCertificate } from "./tls.js";
export type { TestCertificate } from "./tls.js";
export { startAzurite } from "./azurite.js";
export type { AzuriteOptions, RunningAzurite } from "./azurite.js";
export type { EntraScenario, EntraApplication, FederatedIdentityCredential, EntraIssued } from "./entra.js";
export type { CognitoScenario, CognitoIdentityPool } from "./cognito.js";
export { cognitoIdentityId } from "./cognito.js";
