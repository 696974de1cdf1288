/**
 * @module gcp/workload-identity-client
 * Workload Identity Federation as an `AuthClient`: a subject token (from AWS, Azure, a file or a
 * URL) exchanged at Google STS, then a service account impersonated when one is configured.
 */
import { KeylessError } from "../core/errors.js";
import { transportOf } from "../core/options.js";
import type { TransportOptions } from "../core/http.js";
import { systemClock } from "../core/clock.js";
import { assertFresh } from "../core/jwt.js";
import { CLOUD_PLATFORM_SCOPE, exchangeToken, impersonate, type GoogleAccessToken } from "./google-sts.js";
import { impersonationUrl, KeylessAuthClient, type GoogleClientOptions } from "./keyless-auth-client.js";

/** A subject token for Google STS, with what errors should say about who presented it. */
export interface SubjectToken {
  token: string;
  type: "urn:ietf:params:aws:token-type:aws4_request" | "urn:ietf:params:oauth:token-type:jwt" | "urn:ietf:params:oauth:token-type:id_token";
  /** Who is asking, for error messages (an assumed-role ARN, a token's subject). */
  caller?: () => Promise<string | undefined>;
  /** The binding most likely needed: `attribute.aws_role/ARN` or `subject/SUB`. */
  principalHint?: () => Promise<string | undefined>;
}

export interface WorkloadIdentityOptions extends GoogleClientOptions, TransportOptions {
  /** The pool provider: `//iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER`. */
  audience: string;
  /** Service account email to impersonate. Without one, the federated token is used directly (the principal needs IAM roles of its own). */
  serviceAccount?: string;
  /** Full `…:generateAccessToken` URL, instead of `serviceAccount` (from a credential configuration file). */
  serviceAccountImpersonationUrl?: string;
  /** Lifetime of impersonated tokens, seconds, 600 to 43200. Default 3600. */
  tokenLifetimeSeconds?: number;
  /** OAuth scopes. Default `https://www.googleapis.com/auth/cloud-platform`. */
  scopes?: readonly string[];
  /** Google STS token URL. Default `https://sts.{universeDomain}/v1/token`. */
  tokenUrl?: string;
}

const AUDIENCE = /^\/\/iam\.[a-z0-9.-]+\/projects\/\d+\/locations\/global\/workloadIdentityPools\/[\w-]+\/providers\/[\w-]+$/;

/** The `AuthClient` for a workload identity pool; subclasses say where the subject token comes from. */
export class WorkloadIdentityClient extends KeylessAuthClient {
  constructor(options: WorkloadIdentityOptions, subject: () => Promise<SubjectToken>, sourceKey: Record<string, unknown>) {
    if (typeof options.audience !== "string" || !AUDIENCE.test(options.audience)) {
      throw new KeylessError("ERR_CONFIG", `audience must be a workload identity pool provider: //iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER (got ${JSON.stringify(String(options.audience).slice(0, 200))}).`, {
        step: "config",
        hint: "Workforce pools and other audiences are not supported.",
      });
    }
    const universe = options.universeDomain ?? "googleapis.com";
    const tokenUrl = options.tokenUrl ?? `https://sts.${universe}/v1/token`;
    const saUrl = impersonationUrl(options.serviceAccount, options.serviceAccountImpersonationUrl, universe);
    const lifetime = options.tokenLifetimeSeconds ?? 3600;
    if (!Number.isInteger(lifetime) || lifetime < 600 || lifetime > 43_200) {
      throw new KeylessError("ERR_CONFIG", `tokenLifetimeSeconds must be a whole number from 600 to 43200 (got ${String(lifetime)}).`, { step: "config" });
    }
    const scopes = options.scopes ?? [CLOUD_PLATFORM_SCOPE];
    const transport = transportOf(options);
    const clock = options.clock ?? systemClock;
    const pool = options.audience.replace(/^\/\/iam\.[^/]+\//, "").replace(/\/providers\/[^/]+$/, "");
    const fetch = async (): Promise<GoogleAccessToken> => {
      const s = await subject();
      if (s.type !== "urn:ietf:params:aws:token-type:aws4_request") assertFresh(s.token, clock.now(), "subject-token");
      const withCaller = async (error: unknown): Promise<never> => {
        if (error instanceof KeylessError && (error.code === "ERR_GOOGLE_STS_REJECTED" || error.code === "ERR_IMPERSONATION_DENIED")) {
          const [caller, principal] = await Promise.all([s.caller?.().catch(() => undefined), s.principalHint?.().catch(() => undefined)]);
          if (caller !== undefined || principal !== undefined) throw enrich(error, caller, principal, pool);
        }
        throw error;
      };
      const federated = await exchangeToken({ tokenUrl, audience: options.audience, subjectToken: s.token, subjectTokenType: s.type, scopes, ...(options.quotaProjectId ? { userProject: options.quotaProjectId } : {}) }, transport, () => clock.now()).catch(withCaller);
      if (saUrl === undefined) return federated;
      return impersonate({ url: saUrl, federatedToken: federated.token, scopes, lifetimeSeconds: lifetime, pool }, transport, () => clock.now()).catch(withCaller);
    };
    super(options, { name: `gcp:${options.audience}${saUrl ? ` as ${options.serviceAccount ?? saUrl}` : ""}`, key: { source: sourceKey, audience: options.audience, tokenUrl, saUrl, lifetime, scopes, ...transport }, fetch });
  }
}

function enrich(error: KeylessError, caller: string | undefined, principal: string | undefined, pool: string): KeylessError {
  let hint = error.hint ?? "";
  if (error.code === "ERR_IMPERSONATION_DENIED" && principal !== undefined) {
    const email = String(error.details?.["serviceAccount"] ?? "SERVICE_ACCOUNT");
    const member = `${principal.startsWith("subject/") ? "principal" : "principalSet"}://iam.googleapis.com/${pool}/${principal}`;
    hint = `Grant roles/iam.workloadIdentityUser on ${email} to ${member}: gcloud iam service-accounts add-iam-policy-binding ${email} --role=roles/iam.workloadIdentityUser --member="${member}"`;
  } else if (caller !== undefined) {
    hint = `${hint} The caller is ${caller}.`;
  }
  return new KeylessError(error.code, error.message, {
    step: error.step,
    hint,
    cause: error.cause,
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.upstreamCode === undefined ? {} : { upstreamCode: error.upstreamCode }),
    details: { ...error.details, ...(caller === undefined ? {} : { caller }), ...(principal === undefined ? {} : { principal }) },
  });
}
