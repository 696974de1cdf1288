/**
 * @module azure/from-gcp-workload
 * An Azure `TokenCredential` for a workload on GCP: a Google ID token from the metadata server as
 * the Entra client assertion.
 */
import { gcpIdentitySource, type GcpMetadataChoice } from "../sources/gcp-metadata.js";
import { FederatedCredential, type EntraOptions } from "./federated-credential.js";

export interface FromGcpWorkloadOptions extends EntraOptions, GcpMetadataChoice {
  /** `aud` of the Google ID token, and the federated credential's audience. Default `api://AzureADTokenExchange`. */
  audience?: string;
}

/**
 * For `new BlobServiceClient(url, fromGcpWorkload({ tenantId, clientId }))`. The application needs a
 * federated credential with issuer `https://accounts.google.com`, subject = the service account's unique id.
 */
export function fromGcpWorkload(options: FromGcpWorkloadOptions = {}): FederatedCredential {
  const { source, key } = gcpIdentitySource(options, options.audience ?? "api://AzureADTokenExchange");
  return new FederatedCredential({ ...options, assertion: source }, key);
}
