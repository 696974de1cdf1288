/**
 * @module gcp/google-sts
 * The two Google calls of Workload Identity Federation: the STS token exchange, then (when a
 * service account is configured) IAM Credentials `generateAccessToken`. Errors name the step and
 * the binding or condition to check.
 */
import { KeylessError } from "../core/errors.js";
import { describeUrl, formBody, parseJsonObject, request, retryAfterMs, type HttpResponse, type TransportOptions } from "../core/http.js";

export const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/** A Google access token and its expiry (epoch ms). */
export interface GoogleAccessToken {
  token: string;
  expiresAt: number;
}

export interface ExchangeParams {
  tokenUrl: string;
  audience: string;
  subjectToken: string;
  subjectTokenType: string;
  scopes: readonly string[];
  /** Shown in errors: who is asking (an assumed-role ARN, a token's sub). */
  caller?: string;
  userProject?: string;
}

function transient(response: HttpResponse): boolean {
  return response.status === 429 || response.status >= 500;
}

/** Google STS `/v1/token`. */
export async function exchangeToken(params: ExchangeParams, transport: TransportOptions, now: () => number): Promise<GoogleAccessToken> {
  const step = "google-sts";
  const started = now();
  const url = new URL(params.tokenUrl);
  const response = await request({
    ...transport,
    url,
    method: "POST",
    step,
    headers: { "content-type": "application/x-www-form-urlencoded", ...(params.userProject ? { "x-goog-user-project": params.userProject } : {}) },
    body: formBody({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      audience: params.audience,
      scope: params.scopes.join(" "),
      requested_token_type: "urn:ietf:params:oauth:token-type:access_token",
      subject_token: params.subjectToken,
      subject_token_type: params.subjectTokenType,
    }),
  }).catch(unavailable(step, url));
  if (response.status !== 200) {
    if (transient(response)) {
      throw new KeylessError("ERR_GOOGLE_STS_UNAVAILABLE", `Google STS at ${describeUrl(url)} answered HTTP ${response.status}.`, { step, status: response.status, retryable: true, retryAfterMs: retryAfterMs(response) });
    }
    const body = safeJson(response);
    const error = typeof body["error"] === "string" ? body["error"] : `HTTP ${response.status}`;
    const description = typeof body["error_description"] === "string" ? body["error_description"].slice(0, 500) : "";
    throw new KeylessError("ERR_GOOGLE_STS_REJECTED", `Google STS rejected the ${params.subjectTokenType.endsWith("aws4_request") ? "AWS" : "OIDC"} subject token (${error}): ${description}`, {
      step,
      status: response.status,
      upstreamCode: error,
      details: { audience: params.audience, ...(params.caller ? { caller: params.caller } : {}) },
      hint: stsHint(error, description, params),
    });
  }
  const body = parseJsonObject(response, step, describeUrl(url));
  const token = body["access_token"];
  const expiresIn = Number(body["expires_in"]);
  if (typeof token !== "string" || token === "" || !Number.isFinite(expiresIn)) {
    throw new KeylessError("ERR_RESPONSE_MALFORMED", "Google STS answered without access_token and expires_in.", { step, retryable: true, maxAttempts: 2 });
  }
  if (expiresIn <= 0) {
    throw new KeylessError("ERR_CREDENTIALS_EXPIRED", `Google STS answered with a token that expires in ${expiresIn} s.`, { step, retryable: true, maxAttempts: 2, hint: "If this repeats, compare this machine's clock with Google's." });
  }
  return { token, expiresAt: started + expiresIn * 1000 };
}

function stsHint(error: string, description: string, params: ExchangeParams): string {
  if (error === "invalid_target") return `Check the audience: ${params.audience} must name an existing, enabled workload identity pool provider.`;
  if (error === "unauthorized_client") return `The provider's attribute condition rejects this caller${params.caller ? ` (${params.caller})` : ""}: check the condition in the pool provider.`;
  if (/audience/i.test(description)) return "The token's aud must be one of the provider's allowed audiences (default: https://iam.googleapis.com/ + the provider's resource name).";
  if (/issuer/i.test(description)) return "The provider's issuer URI must equal the token's iss exactly.";
  if (params.subjectTokenType.endsWith("aws4_request")) return `Check that the provider is an AWS provider for the account of ${params.caller ?? "the caller"}, and that this machine's clock is right (the signature is valid for 15 minutes).`;
  return "Check the provider's issuer, allowed audiences and attribute mapping against the token.";
}

export interface ImpersonationParams {
  /** `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken` */
  url: string;
  federatedToken: string;
  scopes: readonly string[];
  lifetimeSeconds: number;
  caller?: string;
  /** The pool (`projects/N/locations/global/workloadIdentityPools/P`), for the binding hint. */
  pool?: string;
  /** The attribute most likely bound (`attribute.aws_role/ARN`, `subject/SUB`). */
  principalHint?: string;
}

/** IAM Credentials `generateAccessToken`. */
export async function impersonate(params: ImpersonationParams, transport: TransportOptions, now: () => number): Promise<GoogleAccessToken> {
  const step = "google-impersonation";
  const started = now();
  const url = new URL(params.url);
  const email = decodeURIComponent(/serviceAccounts\/([^/:]+):generateAccessToken/.exec(url.pathname)?.[1] ?? "");
  const response = await request({
    ...transport,
    url,
    method: "POST",
    step,
    headers: { authorization: `Bearer ${params.federatedToken}`, "content-type": "application/json" },
    body: JSON.stringify({ scope: params.scopes, lifetime: `${params.lifetimeSeconds}s` }),
  }).catch(unavailable(step, url));
  if (response.status !== 200) {
    const body = safeJson(response);
    const err = (body["error"] ?? {}) as { message?: unknown; status?: unknown };
    const message = typeof err.message === "string" ? err.message.slice(0, 500) : `HTTP ${response.status}`;
    if (transient(response)) throw new KeylessError("ERR_GOOGLE_STS_UNAVAILABLE", `IAM Credentials answered HTTP ${response.status}.`, { step, status: response.status, retryable: true, retryAfterMs: retryAfterMs(response) });
    if (response.status === 403) {
      const member = params.pool && params.principalHint ? `${params.principalHint.startsWith("subject/") ? "principal" : "principalSet"}://iam.googleapis.com/${params.pool}/${params.principalHint}` : "the federated principal";
      throw new KeylessError("ERR_IMPERSONATION_DENIED", `The federated identity may not impersonate ${email}: ${message}`, {
        step,
        status: 403,
        upstreamCode: typeof err.status === "string" ? err.status : "PERMISSION_DENIED",
        details: { serviceAccount: email, ...(params.caller ? { caller: params.caller } : {}) },
        hint: `Grant roles/iam.workloadIdentityUser on ${email} to ${member}: gcloud iam service-accounts add-iam-policy-binding ${email} --role=roles/iam.workloadIdentityUser --member="${member}"`,
      });
    }
    throw new KeylessError("ERR_IMPERSONATION_FAILED", `IAM Credentials refused to issue a token for ${email} (HTTP ${response.status}): ${message}`, {
      step,
      status: response.status,
      hint: response.status === 400 ? "Check the token lifetime (at most 3600 s unless your organization allows more) and scopes." : undefined,
    });
  }
  const body = parseJsonObject(response, step, describeUrl(url));
  const token = body["accessToken"];
  const expireTime = typeof body["expireTime"] === "string" ? Date.parse(body["expireTime"]) : NaN;
  if (typeof token !== "string" || token === "" || Number.isNaN(expireTime)) {
    throw new KeylessError("ERR_RESPONSE_MALFORMED", "IAM Credentials answered without accessToken and expireTime.", { step, retryable: true, maxAttempts: 2 });
  }
  // expireTime is in Google's clock; the lifetime asked for bounds it in ours.
  return { token, expiresAt: Math.min(expireTime, started + params.lifetimeSeconds * 1000) };
}

function safeJson(response: HttpResponse): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(response.body.toString("utf8"));
    return v !== null && typeof v === "object" ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function unavailable(step: string, url: URL) {
  return (error: unknown): never => {
    if (error instanceof KeylessError && (error.code === "ERR_HTTP_CONNECTION" || error.code === "ERR_HTTP_TIMEOUT")) {
      throw new KeylessError("ERR_GOOGLE_STS_UNAVAILABLE", `${describeUrl(url)} is unreachable: ${error.message}`, { step, cause: error, retryable: true });
    }
    throw error;
  };
}
