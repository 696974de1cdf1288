/**
 * @module aws/from-gcp-workload
 * AWS credentials for a workload on GCP (GCE, GKE, Cloud Run): a Google ID token from the metadata
 * server, exchanged at STS.
 */
import { gcpIdentityToken, gcpMetadataHost } from "../sources/gcp-metadata.js";
import { transportOf } from "../core/options.js";
import { webIdentityProvider, type AssumeRoleOptions, type KeylessAwsCredentialProvider } from "./from-web-identity.js";

export interface FromGcpWorkloadOptions extends AssumeRoleOptions {
  /** `aud` of the Google ID token (the trust policy's `accounts.google.com:oaud`). Default `sts.amazonaws.com`. */
  audience?: string;
  /** Metadata server `host[:port]`. Default `GCE_METADATA_HOST`, else `metadata.google.internal`. */
  metadataHost?: string;
  /** Service account to speak for. Default `default`. */
  serviceAccount?: string;
}

/** AWS credentials for this GCP workload's service account, for any AWS SDK v3 client: `new S3Client({ credentials: fromGcpWorkload({ roleArn }) })`. */
export function fromGcpWorkload(options: FromGcpWorkloadOptions = {}): KeylessAwsCredentialProvider {
  const audience = options.audience ?? "sts.amazonaws.com";
  const source = gcpIdentityToken({ ...transportOf(options), audience, ...(options.metadataHost ? { metadataHost: options.metadataHost } : {}), ...(options.serviceAccount ? { serviceAccount: options.serviceAccount } : {}) });
  return webIdentityProvider(options, source, { source: "gcp-metadata", audience, metadataHost: gcpMetadataHost(options.metadataHost), serviceAccount: options.serviceAccount });
}
