/**
 * @module aws/from-azure-workload
 * AWS credentials for a workload on Azure (VMs, scale sets, App Service, Functions, Container
 * Apps): a managed identity token for `resource`, exchanged at STS. On AKS, use `fromWebIdentity`
 * with the workload identity token file (`AZURE_FEDERATED_TOKEN_FILE`).
 */
import { KeylessError } from "../core/errors.js";
import { managedIdentitySource, type ManagedIdentityChoice } from "../sources/azure-managed-identity.js";
import { webIdentityProvider, type AssumeRoleOptions, type KeylessAwsCredentialProvider } from "./from-web-identity.js";

export interface FromAzureWorkloadOptions extends AssumeRoleOptions, ManagedIdentityChoice {
  /** The App ID URI the IAM OIDC provider lists as a client id, e.g. `api://my-aws-federation`: the token's `aud`. */
  resource: string;
}

/** AWS credentials for this Azure workload's managed identity: `new S3Client({ credentials: fromAzureWorkload({ roleArn, resource }) })`. */
export function fromAzureWorkload(options: FromAzureWorkloadOptions): KeylessAwsCredentialProvider {
  if (options === undefined || typeof options.resource !== "string" || options.resource === "") {
    throw new KeylessError("ERR_CONFIG", "fromAzureWorkload needs `resource`: the App ID URI that the IAM OIDC provider for your tenant lists as a client id.", { step: "config" });
  }
  const { source, key } = managedIdentitySource(options, options.resource);
  return webIdentityProvider(options, source, key);
}
