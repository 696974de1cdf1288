/**
 * @module aws/from-azure-workload
 * AWS credentials for a workload on Azure (VMs, scale sets, App Service, Functions, Container
 * Apps): a managed identity token for `resource`, exchanged at STS. On AKS, use `fromWebIdentity`
 * with the workload identity token file (`AZURE_FEDERATED_TOKEN_FILE`).
 */
import { KeylessError } from "../core/errors.js";
import { transportOf } from "../core/options.js";
import { azureManagedIdentityToken } from "../sources/azure-managed-identity.js";
import { webIdentityProvider, type AssumeRoleOptions, type KeylessAwsCredentialProvider } from "./from-web-identity.js";

export interface FromAzureWorkloadOptions extends AssumeRoleOptions {
  /** The App ID URI the IAM OIDC provider lists as a client id, e.g. `api://my-aws-federation`: the token's `aud`. */
  resource: string;
  /** A user-assigned managed identity's client id. Default: the system-assigned identity (or the only one). */
  managedIdentityClientId?: string;
  /** A user-assigned managed identity's object (principal) id. */
  managedIdentityObjectId?: string;
  /** A user-assigned managed identity's ARM resource id. */
  managedIdentityResourceId?: string;
  /** IMDS base URL. Default `AZURE_POD_IDENTITY_AUTHORITY_HOST`, else `http://169.254.169.254`. */
  imdsBaseUrl?: string;
}

/** AWS credentials for this Azure workload's managed identity: `new S3Client({ credentials: fromAzureWorkload({ roleArn, resource }) })`. */
export function fromAzureWorkload(options: FromAzureWorkloadOptions): KeylessAwsCredentialProvider {
  if (options === undefined || typeof options.resource !== "string" || options.resource === "") {
    throw new KeylessError("ERR_CONFIG", "fromAzureWorkload needs `resource`: the App ID URI that the IAM OIDC provider for your tenant lists as a client id.", { step: "config" });
  }
  const identity = {
    ...(options.managedIdentityClientId ? { clientId: options.managedIdentityClientId } : {}),
    ...(options.managedIdentityObjectId ? { objectId: options.managedIdentityObjectId } : {}),
    ...(options.managedIdentityResourceId ? { resourceId: options.managedIdentityResourceId } : {}),
    ...(options.imdsBaseUrl ? { imdsBaseUrl: options.imdsBaseUrl } : {}),
  };
  const source = azureManagedIdentityToken({ ...transportOf(options), resource: options.resource, ...identity });
  return webIdentityProvider(options, source, {
    source: "azure-managed-identity",
    resource: options.resource,
    ...identity,
    endpoint: process.env["IDENTITY_ENDPOINT"] ?? options.imdsBaseUrl ?? process.env["AZURE_POD_IDENTITY_AUTHORITY_HOST"],
  });
}
