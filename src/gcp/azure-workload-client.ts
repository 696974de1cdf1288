/**
 * @module gcp/azure-workload-client
 * Google credentials for a workload on Azure: a managed identity token (VM IMDS, or the App
 * Service / Functions / Container Apps identity endpoint, which url-sourced configs cannot reach)
 * as an OIDC subject token at Google STS.
 */
import { decodeJwt } from "../core/jwt.js";
import { azureManagedIdentityToken } from "../sources/azure-managed-identity.js";
import { transportOf } from "../core/options.js";
import { WorkloadIdentityClient, type WorkloadIdentityOptions } from "./workload-identity-client.js";

export interface AzureWorkloadOptions extends WorkloadIdentityOptions {
  /** The App ID URI the pool provider lists as an allowed audience: the token's `aud`. */
  resource: string;
  /** A user-assigned managed identity's client id. */
  managedIdentityClientId?: string;
  /** A user-assigned managed identity's object (principal) id. */
  managedIdentityObjectId?: string;
  /** A user-assigned managed identity's ARM resource id. */
  managedIdentityResourceId?: string;
  /** IMDS base URL. Default `AZURE_POD_IDENTITY_AUTHORITY_HOST`, else `http://169.254.169.254`. */
  imdsBaseUrl?: string;
}

/** `AuthClient` for `new Storage({ authClient })` / `new BigQuery({ authClient })` on Azure. */
export class AzureWorkloadClient extends WorkloadIdentityClient {
  constructor(options: AzureWorkloadOptions) {
    const identity = {
      ...(options.managedIdentityClientId ? { clientId: options.managedIdentityClientId } : {}),
      ...(options.managedIdentityObjectId ? { objectId: options.managedIdentityObjectId } : {}),
      ...(options.managedIdentityResourceId ? { resourceId: options.managedIdentityResourceId } : {}),
      ...(options.imdsBaseUrl ? { imdsBaseUrl: options.imdsBaseUrl } : {}),
    };
    const source = azureManagedIdentityToken({ ...transportOf(options), resource: options.resource, ...identity });
    super(
      options,
      async () => {
        const token = await source();
        const sub = decodeJwt(token).sub;
        return { token, type: "urn:ietf:params:oauth:token-type:jwt", caller: async () => (sub ? `managed identity ${sub}` : undefined), principalHint: async () => (sub ? `subject/${sub}` : undefined) };
      },
      { source: "azure", resource: options.resource, ...identity, endpoint: process.env["IDENTITY_ENDPOINT"] ?? options.imdsBaseUrl ?? process.env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] },
    );
  }
}

/** `new AzureWorkloadClient(options)`. */
export function fromAzureWorkload(options: AzureWorkloadOptions): AzureWorkloadClient {
  return new AzureWorkloadClient(options);
}
