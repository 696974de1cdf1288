/**
 * @module testing/google
 * The emulated Google APIs behind Workload Identity Federation: STS `/v1/token` (AWS signed
 * `GetCallerIdentity` and OIDC subject tokens), IAM Credentials `generateAccessToken` /
 * `generateIdToken` (bearer check and `roles/iam.workloadIdentityUser` binding), and a Cloud
 * Storage / BigQuery endpoint that checks bearer tokens for the real client libraries.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { Clock } from "../core/clock.js";
import type { AwsKeyStore } from "./aws.js";
import { toSigV4Input } from "./aws.js";
import type { Issuer, IssuerRegistry } from "./issuer.js";
import { TokenVerificationError } from "./issuer.js";
import { json, type EmulatedRequest, type EmulatedResponse, type Route } from "./service.js";
import { verifySigV4 } from "./sigv4-verify.js";

/** A workload identity pool provider. */
export interface GcpPoolProvider {
  /** `//iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER` */
  audience: string;
  kind: "aws" | "oidc";
  /** AWS providers: the account whose principals may federate. */
  awsAccountId?: string;
  /** OIDC providers: the issuer. */
  issuerUri?: string;
  /** OIDC providers: accepted `aud` values. Default: `https:` + the provider's resource name. */
  allowedAudiences?: string[];
  /** Simplified attribute condition: every listed attribute must equal its value (else `unauthorized_client`). */
  attributeCondition?: Record<string, string>;
  /** Disabled providers refuse every token. */
  disabled?: boolean;
}

/** A service account other workloads may impersonate. */
export interface GcpTargetServiceAccount {
  email: string;
  uniqueId: string;
  /** Principals holding `roles/iam.workloadIdentityUser` on it: `principal://…/subject/S` or `principalSet://…/attribute.NAME/VALUE`. */
  workloadIdentityUsers: string[];
}

export interface GoogleScenario {
  pools: GcpPoolProvider[];
  serviceAccounts: GcpTargetServiceAccount[];
  /** Objects in the emulated Cloud Storage, by bucket. */
  buckets: Record<string, Record<string, string>>;
}

/** Who a Google access token speaks for. */
export interface GoogleTokenInfo {
  kind: "federated" | "service-account";
  /** `principal://…` for federated tokens, the email for service accounts. */
  principal: string;
  attributes: Record<string, string>;
  pool: string;
  expiresAt: number;
  scopes: string[];
}

const TOKEN_TYPES = {
  aws: "urn:ietf:params:aws:token-type:aws4_request",
  jwt: "urn:ietf:params:oauth:token-type:jwt",
  idToken: "urn:ietf:params:oauth:token-type:id_token",
  accessToken: "urn:ietf:params:oauth:token-type:access_token",
};

/** Resource name of a provider's pool: `projects/N/locations/global/workloadIdentityPools/P`. */
export function poolOf(audience: string): string {
  return audience.replace(/^\/\/iam\.googleapis\.com\//, "").replace(/\/providers\/[^/]+$/, "");
}

/** The Google STS, IAM Credentials, Storage and BigQuery routes. */
/** What the emulated Google STS saw of each accepted AWS subject token. */
export interface AwsSubjectRecord {
  arn: string;
  signedHeaders: string[];
}

export function googleRoutes(scenario: GoogleScenario, projectId: string, issuers: IssuerRegistry, google: Issuer, awsKeys: AwsKeyStore, clock: Clock, tokens: Map<string, GoogleTokenInfo>, issued: string[], awsSubjects: AwsSubjectRecord[], apiCallers: string[]): Route[] {
  const oauthError = (status: number, error: string, description: string): EmulatedResponse => json(status, { error, error_description: description });
  const googleError = (status: number, statusText: string, message: string): EmulatedResponse => json(status, { error: { code: status, message, status: statusText } });
  const bearer = (req: EmulatedRequest): GoogleTokenInfo | undefined => {
    const header = req.headers["authorization"];
    const token = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7) : undefined;
    const info = token === undefined ? undefined : tokens.get(token);
    return info !== undefined && info.expiresAt > clock.now() ? info : undefined;
  };
  const unauthenticated = () => googleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.");

  const sts = async (req: EmulatedRequest): Promise<EmulatedResponse> => {
    const form = new URLSearchParams(req.body.toString("utf8"));
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:token-exchange") return oauthError(400, "unsupported_grant_type", "grant_type must be urn:ietf:params:oauth:grant-type:token-exchange");
    if (form.get("requested_token_type") !== TOKEN_TYPES.accessToken) return oauthError(400, "invalid_request", "requested_token_type must be urn:ietf:params:oauth:token-type:access_token");
    const audience = form.get("audience") ?? "";
    const provider = scenario.pools.find((p) => p.audience === audience);
    if (provider === undefined) return oauthError(400, "invalid_target", "The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist.");
    if (provider.disabled) return oauthError(400, "invalid_target", "The workload identity pool provider is disabled.");
    const subjectToken = form.get("subject_token") ?? "";
    const subjectType = form.get("subject_token_type") ?? "";
    if (subjectToken === "") return oauthError(400, "invalid_request", "subject_token is required");
    let subject: string;
    let attributes: Record<string, string>;
    if (provider.kind === "aws") {
      if (subjectType !== TOKEN_TYPES.aws) return oauthError(400, "invalid_request", `Invalid subject token type for an AWS provider: ${subjectType}`);
      const checked = await checkAwsSubjectToken(subjectToken, audience, provider, awsKeys, clock);
      if ("error" in checked) return oauthError(400, "invalid_grant", checked.error);
      subject = checked.arn;
      attributes = checked.attributes;
      awsSubjects.push({ arn: checked.arn, signedHeaders: checked.signedHeaders });
    } else {
      if (subjectType !== TOKEN_TYPES.jwt && subjectType !== TOKEN_TYPES.idToken) return oauthError(400, "invalid_request", `Invalid subject token type for an OIDC provider: ${subjectType}`);
      const allowed = provider.allowedAudiences ?? [`https:${audience}`];
      let claims: Record<string, unknown>;
      try {
        claims = await issuers.verify(subjectToken, allowed);
      } catch (error) {
        const reason = error instanceof TokenVerificationError ? error.reason : "malformed";
        const text: Record<string, string> = {
          expired: "The access token has expired.",
          "wrong-audience": `The audience in ID Token [${audienceOf(subjectToken)}] does not match the expected audience.`,
          "bad-signature": "Invalid JWT signature.",
          "unknown-issuer": "The issuer of the token is not trusted by this provider.",
          malformed: "Unable to parse the ID Token.",
          "not-yet-valid": "The ID Token is not yet valid.",
        };
        return oauthError(400, "invalid_grant", text[reason] ?? "Invalid token.");
      }
      if (provider.issuerUri !== undefined && claims["iss"] !== provider.issuerUri) return oauthError(400, "invalid_grant", `The issuer in ID Token [${String(claims["iss"])}] does not match the expected issuer [${provider.issuerUri}].`);
      subject = String(claims["sub"]);
      attributes = { "google.subject": subject, sub: subject, iss: String(claims["iss"]) };
    }
    for (const [name, value] of Object.entries(provider.attributeCondition ?? {})) {
      if (attributes[name] !== value) return oauthError(400, "unauthorized_client", "The given credential is rejected by the attribute condition.");
    }
    const pool = poolOf(audience);
    const token = `ya29.d.fed-${randomBytes(32).toString("base64url")}`;
    tokens.set(token, { kind: "federated", principal: `principal://iam.googleapis.com/${pool}/subject/${subject}`, attributes, pool, expiresAt: clock.now() + 3600_000, scopes: (form.get("scope") ?? "").split(" ").filter(Boolean) });
    issued.push(token);
    return json(200, { access_token: token, issued_token_type: TOKEN_TYPES.accessToken, token_type: "Bearer", expires_in: 3600 });
  };

  const authorize = (req: EmulatedRequest, email: string, permission: string): { sa: GcpTargetServiceAccount } | { error: EmulatedResponse } => {
    const caller = bearer(req);
    if (caller === undefined) return { error: unauthenticated() };
    const sa = scenario.serviceAccounts.find((s) => s.email === email || s.uniqueId === email);
    const denied = { error: googleError(403, "PERMISSION_DENIED", `Permission '${permission}' denied on resource (or it may not exist).`) };
    if (sa === undefined || caller.kind !== "federated") return denied;
    const principals = new Set([caller.principal, ...Object.entries(caller.attributes).filter(([k]) => k.startsWith("attribute.")).map(([k, v]) => `principalSet://iam.googleapis.com/${caller.pool}/${k}/${v}`), `principalSet://iam.googleapis.com/${caller.pool}/*`]);
    if (!sa.workloadIdentityUsers.some((member) => principals.has(member))) return denied;
    return { sa };
  };

  const saPath = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):(generateAccessToken|generateIdToken)$/;
  const bodyJson = (req: EmulatedRequest): Record<string, unknown> | undefined => {
    try {
      const v: unknown = JSON.parse(req.body.toString("utf8"));
      return v !== null && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };

  const storageList = /^\/storage\/v1\/b\/([^/]+)\/o$/;
  const storageGet = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/;
  const bqJobs = /^\/bigquery\/v2\/projects\/([^/]+)\/(jobs|queries)(?:\/([^/]+))?$/;
  const requireApiToken = (req: EmulatedRequest): GoogleTokenInfo | EmulatedResponse => {
    const who = bearer(req);
    if (who === undefined) return unauthenticated();
    apiCallers.push(who.principal);
    return who;
  };
  const jobs = new Map<string, string>();

  return [
    { endpoint: "google.sts.token", match: (r) => r.method === "POST" && r.url.pathname === "/v1/token", handle: sts },
    {
      endpoint: "google.iam.generateAccessToken",
      match: (r) => r.method === "POST" && saPath.exec(r.url.pathname)?.[2] === "generateAccessToken",
      handle: (req) => {
        const email = decodeURIComponent(saPath.exec(req.url.pathname)?.[1] ?? "");
        const auth = authorize(req, email, "iam.serviceAccounts.getAccessToken");
        if ("error" in auth) return auth.error;
        const body = bodyJson(req);
        const scope = Array.isArray(body?.["scope"]) ? (body["scope"] as unknown[]).map(String) : [];
        if (scope.length === 0) return googleError(400, "INVALID_ARGUMENT", "Scope required.");
        const lifetimeText = typeof body?.["lifetime"] === "string" ? (body["lifetime"] as string) : "3600s";
        const lifetime = Number(/^(\d+)s$/.exec(lifetimeText)?.[1] ?? NaN);
        if (!(lifetime >= 1 && lifetime <= 3600)) return googleError(400, "INVALID_ARGUMENT", "The lifetime must be between 1 and 3600 seconds (longer needs the constraints/iam.allowServiceAccountCredentialLifetimeExtension organization policy).");
        const token = `ya29.c.sa-${randomBytes(32).toString("base64url")}`;
        const expiresAt = clock.now() + lifetime * 1000;
        tokens.set(token, { kind: "service-account", principal: auth.sa.email, attributes: {}, pool: "", expiresAt, scopes: scope });
        issued.push(token);
        return json(200, { accessToken: token, expireTime: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z") });
      },
    },
    {
      endpoint: "google.iam.generateIdToken",
      match: (r) => r.method === "POST" && saPath.exec(r.url.pathname)?.[2] === "generateIdToken",
      handle: async (req) => {
        const email = decodeURIComponent(saPath.exec(req.url.pathname)?.[1] ?? "");
        const auth = authorize(req, email, "iam.serviceAccounts.getOpenIdToken");
        if ("error" in auth) return auth.error;
        const body = bodyJson(req);
        const audience = typeof body?.["audience"] === "string" ? (body["audience"] as string) : "";
        if (audience === "") return googleError(400, "INVALID_ARGUMENT", "audience is required");
        const token = await google.sign({ aud: audience, azp: auth.sa.uniqueId, sub: auth.sa.uniqueId, ...(body?.["includeEmail"] === true ? { email: auth.sa.email, email_verified: true } : {}) });
        issued.push(token);
        return json(200, { token });
      },
    },
    {
      endpoint: "google.storage.objects.list",
      match: (r) => r.method === "GET" && storageList.test(r.url.pathname),
      handle: (req) => {
        const who = requireApiToken(req);
        if ("status" in who) return who;
        const bucket = decodeURIComponent(storageList.exec(req.url.pathname)?.[1] ?? "");
        const objects = scenario.buckets[bucket];
        if (objects === undefined) return googleError(404, "NOT_FOUND", "The specified bucket does not exist.");
        return json(200, { kind: "storage#objects", items: Object.entries(objects).map(([name, content]) => ({ kind: "storage#object", name, bucket, size: String(Buffer.byteLength(content)), contentType: "text/plain", id: `${bucket}/${name}` })) });
      },
    },
    {
      endpoint: "google.storage.objects.get",
      match: (r) => r.method === "GET" && storageGet.test(r.url.pathname),
      handle: (req) => {
        const who = requireApiToken(req);
        if ("status" in who) return who;
        const m = storageGet.exec(req.url.pathname);
        const bucket = decodeURIComponent(m?.[1] ?? "");
        const name = decodeURIComponent(m?.[2] ?? "");
        const content = scenario.buckets[bucket]?.[name];
        if (content === undefined) return googleError(404, "NOT_FOUND", "No such object.");
        if (req.url.searchParams.get("alt") === "media") return { status: 200, headers: { "content-type": "text/plain" }, body: content };
        return json(200, { kind: "storage#object", name, bucket, size: String(Buffer.byteLength(content)) });
      },
    },
    {
      endpoint: "google.bigquery",
      match: (r) => bqJobs.test(r.url.pathname),
      handle: (req) => {
        const who = requireApiToken(req);
        if ("status" in who) return who;
        const [, project = projectId, kind, jobId] = bqJobs.exec(req.url.pathname) ?? [];
        const body = bodyJson(req);
        const result = (id: string, sql: string) => ({
          kind: "bigquery#queryResponse",
          jobReference: { projectId: project, jobId: id, location: "US" },
          jobComplete: true,
          totalRows: "1",
          schema: { fields: [{ name: "principal", type: "STRING", mode: "NULLABLE" }, { name: "answer", type: "INTEGER", mode: "NULLABLE" }] },
          rows: [{ f: [{ v: who.principal }, { v: String(sql.includes("42") ? 42 : 1) }] }],
          cacheHit: false,
        });
        if (req.method === "POST" && kind === "queries") {
          const id = `job_${randomUUID().replace(/-/g, "")}`;
          return json(200, result(id, String(body?.["query"] ?? "")));
        }
        if (req.method === "POST" && kind === "jobs") {
          const config = body?.["configuration"] as { query?: { query?: string } } | undefined;
          const ref = body?.["jobReference"] as { jobId?: string } | undefined;
          const id = ref?.jobId ?? `job_${randomUUID().replace(/-/g, "")}`;
          jobs.set(id, config?.query?.query ?? "");
          return json(200, { kind: "bigquery#job", id: `${project}:US.${id}`, jobReference: { projectId: project, jobId: id, location: "US" }, configuration: body?.["configuration"], status: { state: "DONE" }, statistics: { creationTime: String(clock.now()) } });
        }
        if (req.method === "GET" && kind === "queries" && jobId !== undefined) return json(200, result(jobId, jobs.get(jobId) ?? ""));
        if (req.method === "GET" && kind === "jobs" && jobId !== undefined) return json(200, { kind: "bigquery#job", jobReference: { projectId: project, jobId, location: "US" }, status: { state: "DONE" } });
        return googleError(400, "INVALID_ARGUMENT", "unsupported BigQuery call in the emulator");
      },
    },
  ];
}

function audienceOf(token: string): string {
  try {
    return String((JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { aud?: unknown }).aud);
  } catch {
    return "";
  }
}

/** Checks a serialized, signed `GetCallerIdentity` request the way Google STS does (by having AWS verify it). */
async function checkAwsSubjectToken(subjectToken: string, audience: string, provider: GcpPoolProvider, awsKeys: AwsKeyStore, clock: Clock): Promise<{ arn: string; attributes: Record<string, string>; signedHeaders: string[] } | { error: string }> {
  let parsed: { url?: unknown; method?: unknown; headers?: unknown; body?: unknown };
  try {
    parsed = JSON.parse(decodeURIComponent(subjectToken)) as typeof parsed;
  } catch {
    return { error: "Unable to parse the AWS subject token: it must be a URL-encoded JSON serialization of a signed GetCallerIdentity request." };
  }
  if (typeof parsed.url !== "string" || parsed.method !== "POST" || !Array.isArray(parsed.headers)) return { error: "The AWS subject token must have url, method POST and headers." };
  let url: URL;
  try {
    url = new URL(parsed.url);
  } catch {
    return { error: "The AWS subject token's url is invalid." };
  }
  if (url.protocol !== "https:" || !/^sts(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$/.test(url.hostname)) return { error: `The AWS subject token must target an AWS STS endpoint, not ${url.host}.` };
  if (url.searchParams.get("Action") !== "GetCallerIdentity" || url.searchParams.get("Version") !== "2011-06-15") return { error: "The AWS subject token must be a GetCallerIdentity request (Action=GetCallerIdentity&Version=2011-06-15)." };
  const headers: Record<string, string> = {};
  for (const h of parsed.headers as Array<{ key?: unknown; value?: unknown }>) {
    if (typeof h.key === "string" && typeof h.value === "string") headers[h.key.toLowerCase()] = h.value;
  }
  if (headers["x-goog-cloud-target-resource"] !== audience) return { error: "The x-goog-cloud-target-resource header of the AWS subject token must equal the audience." };
  if ((headers["host"] ?? url.host) !== url.host) return { error: "The host header does not match the url." };
  headers["host"] = url.host;
  const input = toSigV4Input({ method: "POST", url, headers, body: Buffer.from(typeof parsed.body === "string" ? parsed.body : "") });
  const result = await verifySigV4(input, (id) => awsKeys.get(id), clock.now());
  if (!result.ok || result.credentials === undefined) return { error: `AWS rejected the signed GetCallerIdentity request: ${result.message ?? "invalid"}` };
  const region = /^sts\.([a-z0-9-]+)\.amazonaws/.exec(url.hostname)?.[1];
  if (region !== undefined && result.region !== region) return { error: "The signature's region does not match the regional STS host." };
  const arn = result.credentials.arn;
  if (provider.awsAccountId !== undefined && result.credentials.accountId !== provider.awsAccountId) return { error: `The AWS account ${result.credentials.accountId} is not allowed by this provider.` };
  const role = arn.replace(/^(arn:aws[\w-]*:sts::\d{12}:assumed-role\/[^/]+)\/.*$/, "$1");
  return {
    arn,
    attributes: { "google.subject": arn, "attribute.aws_role": role, "attribute.aws_account": result.credentials.accountId },
    signedHeaders: result.signedHeaders ?? [],
  };
}
