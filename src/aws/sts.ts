/**
 * @module aws/sts
 * STS `AssumeRoleWithWebIdentity` through `@aws-sdk/client-sts` (loaded on first use), with one
 * attempt per call and keyless's transport, so keyless's retry policy is the only one; and the
 * mapping of STS errors to typed errors that say which trust-policy condition to fix.
 */
import type { AwsCredentialIdentity } from "@smithy/types";
import { KeylessError } from "../core/errors.js";
import { describeUrl, type TransportOptions } from "../core/http.js";
import { stsClient, withTimeout } from "../sources/sts-client.js";
import { decodeJwt, describeClaims, type JwtClaims } from "../core/jwt.js";

export interface AssumeRoleParams {
  roleArn: string;
  roleSessionName: string;
  durationSeconds: number;
  policy?: string;
  policyArns?: readonly string[];
  providerId?: string;
}

const STEP = "aws-sts";

export { stsEndpoint } from "../sources/aws-endpoints.js";

/** Temporary credentials and their expiry (epoch ms, corrected for clock skew by the requested duration). */
export interface AssumedRole {
  credentials: AwsCredentialIdentity & { sessionToken: string; expiration: Date; accountId: string };
  expiresAt: number;
  assumedRoleArn: string;
}

/** Calls STS once. Errors are {@link KeylessError}s classified per the STS error table. */
export async function assumeRoleWithWebIdentity(params: AssumeRoleParams, token: string, region: string, endpoint: URL | undefined, transport: TransportOptions, now: () => number): Promise<AssumedRole> {
  const client = await stsClient(region, endpoint, transport);
  const { AssumeRoleWithWebIdentityCommand } = await import("@aws-sdk/client-sts");
  const started = now();
  let output;
  try {
    output = await withTimeout(transport.timeoutMs, (abortSignal) => client.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: params.roleArn,
        RoleSessionName: params.roleSessionName,
        WebIdentityToken: token,
        DurationSeconds: params.durationSeconds,
        ...(params.policy === undefined ? {} : { Policy: params.policy }),
        ...(params.policyArns === undefined ? {} : { PolicyArns: params.policyArns.map((arn) => ({ arn })) }),
        ...(params.providerId === undefined ? {} : { ProviderId: params.providerId }),
      }),
      { abortSignal },
    ));
  } catch (error) {
    throw stsError(error, token, params.roleArn, endpoint ?? new URL(`https://sts.${region}.amazonaws.com/`));
  }
  const c = output.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !(c.Expiration instanceof Date) || Number.isNaN(c.Expiration.getTime())) {
    throw new KeylessError("ERR_RESPONSE_MALFORMED", "STS answered without complete credentials.", { step: STEP, retryable: true, maxAttempts: 2 });
  }
  const assumedRoleArn = output.AssumedRoleUser?.Arn ?? "";
  const accountId = assumedRoleArn.split(":")[4] || params.roleArn.split(":")[4] || "";
  // STS states expiry in its own clock; the requested duration bounds it in ours (clock skew).
  const expiresAt = Math.min(c.Expiration.getTime(), started + params.durationSeconds * 1000);
  return {
    credentials: hideSecrets({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: new Date(expiresAt), accountId }),
    expiresAt,
    assumedRoleArn,
  };
}

/** Keeps `util.inspect` (and so console.log) from printing the secret parts. */
function hideSecrets<T extends AwsCredentialIdentity>(credentials: T): T {
  Object.defineProperty(credentials, Symbol.for("nodejs.util.inspect.custom"), {
    enumerable: false,
    value: () => `AwsCredentials { accessKeyId: '${credentials.accessKeyId}', secretAccessKey: '[redacted]', sessionToken: '[redacted]', expiration: ${credentials.expiration?.toISOString()} }`,
  });
  return credentials;
}

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $fault?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

function claimsOf(token: string): JwtClaims | undefined {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

/** What the role's trust policy must contain for this token. */
export function trustPolicyHint(claims: JwtClaims | undefined, roleArn: string): string {
  if (claims === undefined) return `The token is not a JWT; check the token source.`;
  const provider = typeof claims.iss === "string" ? claims.iss.replace(/^https:\/\//, "") : "(no iss)";
  const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
  if (provider === "accounts.google.com") {
    return `The trust policy of ${roleArn} must allow Federated "accounts.google.com" with conditions "accounts.google.com:aud" = "${String(claims.azp ?? aud)}" (IAM compares :aud with the token's azp claim, the service account's unique id, not with its aud), "accounts.google.com:oaud" = "${String(aud)}" (the token's aud) and, if used, "accounts.google.com:sub" = "${String(claims.sub)}".`;
  }
  return `${roleArn} needs an IAM OIDC identity provider for ${String(claims.iss)} whose client ids include "${String(aud)}", and a trust policy allowing it with "${provider}:aud" = "${String(aud)}" and "${provider}:sub" = "${String(claims.sub)}".`;
}

// The SDK names some STS codes with an "Exception" suffix they do not have on the wire; PROTOCOLS.md uses the wire codes.
const WIRE_CODES = new Map(
  ["AccessDenied", "ExpiredTokenException", "IDPCommunicationError", "IDPRejectedClaim", "InvalidIdentityToken", "MalformedPolicyDocument", "PackedPolicyTooLarge", "RegionDisabledException", "Throttling", "ValidationError"].map((code) => [code.replace(/Exception$/, ""), code]),
);

function wireCode(name: string): string {
  return WIRE_CODES.get(name.replace(/Exception$/, "")) ?? name;
}

export function stsError(error: unknown, token: string, roleArn: string, endpoint: URL): KeylessError {
  const e = (error ?? {}) as SdkError;
  const name = wireCode(e.name ?? "Error");
  const status = e.$metadata?.httpStatusCode;
  const claims = claimsOf(token);
  const details = { roleArn, endpoint: describeUrl(endpoint), ...(claims ? { claims: describeClaims(claims) } : {}) };
  const retryAfterHeader = e.$response?.headers?.["retry-after"];
  const retryAfterMs = retryAfterHeader !== undefined && Number.isFinite(Number(retryAfterHeader)) ? Number(retryAfterHeader) * 1000 : undefined;
  const base = { step: STEP, cause: error, status, upstreamCode: name, details, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  const message = (e.message ?? "").slice(0, 500);
  switch (name) {
    case "AccessDenied":
      return new KeylessError("ERR_STS_ACCESS_DENIED", `STS refused to let this workload assume ${roleArn}: ${message}`, { ...base, hint: trustPolicyHint(claims, roleArn) });
    case "InvalidIdentityToken":
      return new KeylessError("ERR_STS_INVALID_IDENTITY_TOKEN", `STS did not accept the web identity token: ${message}`, { ...base, retryable: true, maxAttempts: 2, hint: trustPolicyHint(claims, roleArn) });
    case "ExpiredTokenException":
      return new KeylessError("ERR_STS_EXPIRED_TOKEN", `STS says the web identity token has expired: ${message}`, { ...base, retryable: true, maxAttempts: 2, hint: "keyless fetches a fresh token for each exchange; if this repeats, compare this machine's clock with the token issuer's." });
    case "IDPCommunicationError":
      return new KeylessError("ERR_STS_IDP_COMMUNICATION", `STS could not reach the token's identity provider: ${message}`, { ...base, retryable: true });
    case "Throttling":
    case "RequestLimitExceeded":
      return new KeylessError("ERR_STS_THROTTLED", `STS is throttling requests: ${message}`, { ...base, retryable: true });
    case "IDPRejectedClaim":
    case "ValidationError":
    case "MalformedPolicyDocument":
    case "PackedPolicyTooLarge":
    case "RegionDisabledException":
      return new KeylessError("ERR_STS_REJECTED", `STS rejected the request (${name}): ${message}`, {
        ...base,
        hint: name === "RegionDisabledException" ? "Activate STS in this region (IAM account settings) or pass another region." : name === "ValidationError" ? "Check roleArn, roleSessionName, durationSeconds (and the role's maximum session duration) and policy." : undefined,
      });
  }
  if (status === 429) return new KeylessError("ERR_STS_THROTTLED", `STS is throttling requests (HTTP 429).`, { ...base, retryable: true });
  if (name === "AbortError" || e.code === "ECONNREFUSED" || e.code === "ECONNRESET" || e.code === "ETIMEDOUT" || name === "TimeoutError" || status === undefined || status >= 500 || e.$fault === "server") {
    return new KeylessError("ERR_STS_UNAVAILABLE", `STS at ${describeUrl(endpoint)} is unavailable (${status === undefined ? e.code ?? name : `HTTP ${status}`}).`, { ...base, retryable: true });
  }
  return new KeylessError("ERR_STS_REJECTED", `STS rejected the request (${name}${status ? `, HTTP ${status}` : ""}): ${message}`, base);
}
