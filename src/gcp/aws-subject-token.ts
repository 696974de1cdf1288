/**
 * @module gcp/aws-subject-token
 * The AWS subject token Google STS accepts: a SigV4-signed `GetCallerIdentity` request, serialized
 * and URL-encoded. Unlike google-auth-library, keyless signs `x-goog-cloud-target-resource` too, so
 * the audience is integrity-protected. Built right before each exchange and never reused.
 */
import type { AwsCredentialIdentity } from "@smithy/types";

/** `https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15`, in the region's partition. */
export function getCallerIdentityUrl(region: string, template?: string): string {
  const host = `sts.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`;
  return (template ?? `https://${host}?Action=GetCallerIdentity&Version=2011-06-15`).replace("{region}", region);
}

/** Signs `GetCallerIdentity` for `region` with `credentials` and serializes it for Google STS. */
export async function awsSubjectToken(credentials: AwsCredentialIdentity, region: string, audience: string, urlTemplate?: string, signingDate?: Date): Promise<string> {
  const [{ SignatureV4 }, { Hash }, { HttpRequest }] = await Promise.all([import("@smithy/signature-v4"), import("@smithy/hash-node"), import("@smithy/protocol-http")]);
  const url = new URL(getCallerIdentityUrl(region, urlTemplate));
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = value;
  const signer = new SignatureV4({ service: "sts", region, credentials, sha256: Hash.bind(null, "sha256"), applyChecksum: false });
  const signed = await signer.sign(
    new HttpRequest({ method: "POST", protocol: "https:", hostname: url.hostname, path: url.pathname, query, headers: { host: url.host, "x-goog-cloud-target-resource": audience } }),
    { signingDate: signingDate ?? new Date() },
  );
  const headers = Object.entries(signed.headers).map(([key, value]) => ({ key: key === "authorization" ? "Authorization" : key, value: String(value) }));
  return encodeURIComponent(JSON.stringify({ url: url.href, method: "POST", headers }));
}
