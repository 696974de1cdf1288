/**
 * @module gcp/azure-workload-client
 * Google credentials for a workload on Azure: a managed identity token (VM IMDS, or the App
 * Service / Functions / Container Apps identity endpoint, which url-sourced configs cannot reach)
 * as an OIDC subject token at Google STS.
 */
import { decodeJwt } from "../core/jwt.js";
import { managedIdentitySource, type ManagedIdentityChoice } from "../sources/azure-managed-identity.js";
import { WorkloadIdentityClient, type WorkloadIdentityOptions } from "./workload-identity-client.js";

export interface AzureWorkloadOptions extends WorkloadIdentityOptions, ManagedIdentityChoice {
  /** The App ID URI the pool provider lists as an allowed audience: the token's `aud`. */
  resource: string;
}

/** `AuthClient` for `new Storage({ authClient })` / `new BigQuery({ authClient })` on Azure. */
export class AzureWorkloadClient extends WorkloadIdentityClient {
  constructor(options: AzureWorkloadOptions) {
    const { source, key } = managedIdentitySource(options, options.resource);
    super(
      options,
      async () => {
        const token = await source();
        const sub = decodeJwt(token).sub;
        return { token, type: "urn:ietf:params:oauth:token-type:jwt", caller: async () => (sub ? `managed identity ${sub}` : undefined), principalHint: async () => (sub ? `subject/${sub}` : undefined) };
      },
      key,
    );
  }
}

/** `new AzureWorkloadClient(options)`. */
export function fromAzureWorkload(options: AzureWorkloadOptions): AzureWorkloadClient {
  return new AzureWorkloadClient(options);
}
