/**
 * @module azure/from-gcp-workload
 * An Azure `TokenCredential` for a workload on GCP: a Google ID token from the metadata server as
 * the Entra client assertion.
 */
import { transportOf } from "../core/options.js";
import { gcpIdentityToken, gcpMetadataHost } from "../sources/gcp-metadata.js";
import { FederatedCredential, type EntraOptions } from "./federated-credential.js";

export interface FromGcpWorkloadOptions extends EntraOptions {
  /** `aud` of the Google ID token, and the federated credential's audience. Default `api://AzureADTokenExchange`. */
  audience?: string;
  /** Metadata server `host[:port]`. Default `GCE_METADATA_HOST`, else `metadata.google.internal`. */
  metadataHost?: string;
  /** Service account to speak for. Default `default`. */
  serviceAccount?: string;
}

/**
 * For `new BlobServiceClient(url, fromGcpWorkload({ tenantId, clientId }))`. The application needs a
 * federated credential with issuer `https://accounts.google.com`, subject = the service account's unique id.
 */
export function fromGcpWorkload(options: FromGcpWorkloadOptions = {}): FederatedCredential {
  const audience = options.audience ?? "api://AzureADTokenExchange";
  const source = gcpIdentityToken({ ...transportOf(options), audience, ...(options.metadataHost ? { metadataHost: options.metadataHost } : {}), ...(options.serviceAccount ? { serviceAccount: options.serviceAccount } : {}) });
  return new FederatedCredential({ ...options, assertion: source }, { source: "gcp-metadata", audience, metadataHost: gcpMetadataHost(options.metadataHost), serviceAccount: options.serviceAccount });
}
