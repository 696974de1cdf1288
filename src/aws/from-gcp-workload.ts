/**
 * @module aws/from-gcp-workload
 * AWS credentials for a workload on GCP (GCE, GKE, Cloud Run): a Google ID token from the metadata
 * server, exchanged at STS.
 */
import { gcpIdentitySource, type GcpMetadataChoice } from "../sources/gcp-metadata.js";
import { webIdentityProvider, type AssumeRoleOptions, type KeylessAwsCredentialProvider } from "./from-web-identity.js";

export interface FromGcpWorkloadOptions extends AssumeRoleOptions, GcpMetadataChoice {
  /** `aud` of the Google ID token (the trust policy's `accounts.google.com:oaud`). Default `sts.amazonaws.com`. */
  audience?: string;
}

/** AWS credentials for this GCP workload's service account, for any AWS SDK v3 client: `new S3Client({ credentials: fromGcpWorkload({ roleArn }) })`. */
export function fromGcpWorkload(options: FromGcpWorkloadOptions = {}): KeylessAwsCredentialProvider {
  const { source, key } = gcpIdentitySource(options, options.audience ?? "sts.amazonaws.com");
  return webIdentityProvider(options, source, key);
}
