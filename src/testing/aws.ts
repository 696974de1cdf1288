/**
 * @module testing/aws
 * The emulated AWS identity plane: STS `AssumeRoleWithWebIdentity` (JWT verified against the
 * issuer's keys, then the role's trust conditions), IMDSv2, the ECS/EKS container credentials
 * endpoint, and an S3 endpoint that verifies SigV4 with the keys STS issued.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { Clock } from "../core/clock.js";
import type { Issuer, IssuerRegistry } from "./issuer.js";
import { TokenVerificationError } from "./issuer.js";
import { json, xmlEscape, type EmulatedRequest, type EmulatedResponse, type Route } from "./service.js";
import { sha256Hex, verifySigV4, type IssuedAwsCredentials } from "./sigv4-verify.js";

/** One `StringEquals`-style trust statement: a federated provider and the claims it must carry. */
export interface AwsTrustStatement {
  /** The IAM provider name: the issuer URL without `https://`, e.g. `accounts.google.com`. */
  provider: string;
  /** Condition key → allowed value(s), e.g. `{ "accounts.google.com:aud": "1234" }`. */
  conditions: Record<string, string | readonly string[]>;
}

export interface AwsRole {
  arn: string;
  /** Largest DurationSeconds allowed. Default 3600. */
  maxSessionDurationSeconds?: number;
  trust: readonly AwsTrustStatement[];
}

/** An IAM OIDC identity provider. `accounts.google.com` and `cognito-identity.amazonaws.com` need none. */
export interface AwsOidcProvider {
  /** Issuer URL, e.g. `https://sts.windows.net/TENANT/`. */
  url: string;
  /** Audiences accepted (the provider's client id list). */
  clientIds: readonly string[];
}

export interface AwsScenario {
  accountId: string;
  region: string;
  roles: AwsRole[];
  oidcProviders: AwsOidcProvider[];
  /** The role whose credentials IMDS and the container endpoint hand out (AWS → elsewhere). */
  workloadRoleArn: string;
  /** Lifetime of IMDS/container credentials, seconds. Default 6 hours. */
  workloadCredentialSeconds?: number;
  /** The account's outbound identity federation issuer (`GetWebIdentityToken`); undefined: the feature is disabled. */
  outboundIssuer?: string;
}

const BUILT_IN_PROVIDERS = new Set(["accounts.google.com", "cognito-identity.amazonaws.com", "www.amazon.com", "graph.facebook.com"]);

/** Issued credentials by access key id, shared with every service that verifies SigV4. */
export class AwsKeyStore {
  readonly #keys = new Map<string, IssuedAwsCredentials>();

  issue(arn: string, accountId: string, expiresAt: number, withSessionToken = true): IssuedAwsCredentials {
    const creds: IssuedAwsCredentials = {
      accessKeyId: `ASIA${randomBytes(8).toString("hex").toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      ...(withSessionToken ? { sessionToken: `IQoJb3JpZ2luX2Vj${randomBytes(96).toString("base64")}` } : {}),
      expiresAt,
      arn,
      accountId,
    };
    this.#keys.set(creds.accessKeyId, creds);
    return creds;
  }

  get(accessKeyId: string): IssuedAwsCredentials | undefined {
    return this.#keys.get(accessKeyId);
  }

  /** Every secret issued so far (for leak checks). */
  secrets(): string[] {
    return [...this.#keys.values()].flatMap((c) => [c.secretAccessKey, ...(c.sessionToken ? [c.sessionToken] : [])]);
  }
}

function stsError(status: number, code: string, message: string): EmulatedResponse {
  const type = status >= 500 ? "Receiver" : "Sender";
  return {
    status,
    headers: { "content-type": "text/xml" },
    body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>${type}</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  };
}

/** The STS and S3 routes of the emulated AWS. */
export function awsStsRoutes(scenario: AwsScenario, issuers: IssuerRegistry, keys: AwsKeyStore, clock: Clock, tokens: string[], outbound?: Issuer): Route[] {
  const isForm = (req: EmulatedRequest) => req.method === "POST" && new URLSearchParams(req.body.toString("utf8")).get("Action");
  const routes: Route[] = [
    {
      endpoint: "aws.sts.AssumeRoleWithWebIdentity",
      match: (req) => isForm(req) === "AssumeRoleWithWebIdentity",
      handle: (req) => assumeRoleWithWebIdentity(new URLSearchParams(req.body.toString("utf8")), scenario, issuers, keys, clock),
    },
    {
      endpoint: "aws.sts.GetCallerIdentity",
      match: (req) => req.url.searchParams.get("Action") === "GetCallerIdentity" || isForm(req) === "GetCallerIdentity",
      handle: async (req) => {
        const result = await verifySigV4(toSigV4Input(req), (id) => keys.get(id), clock.now());
        if (!result.ok || !result.credentials) return stsError(403, result.failure === "expired-key" ? "ExpiredToken" : "SignatureDoesNotMatch", result.message ?? "denied");
        const c = result.credentials;
        return {
          status: 200,
          headers: { "content-type": "text/xml" },
          body: `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${xmlEscape(c.arn)}</Arn><UserId>AROA:${xmlEscape(c.arn.split("/").pop() ?? "")}</UserId><Account>${c.accountId}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
        };
      },
    },
    {
      endpoint: "aws.sts.GetWebIdentityToken",
      match: (req) => isForm(req) === "GetWebIdentityToken",
      handle: async (req) => {
        const result = await verifySigV4(toSigV4Input(req), (id) => keys.get(id), clock.now());
        if (!result.ok || !result.credentials) return stsError(403, result.failure === "expired-key" ? "ExpiredToken" : "SignatureDoesNotMatch", result.message ?? "denied");
        if (outbound === undefined) return stsError(403, "OutboundWebIdentityFederationDisabledException", "Outbound identity federation is not enabled for this account.");
        const form = new URLSearchParams(req.body.toString("utf8"));
        const audiences = [...form.entries()].filter(([k]) => /^Audience\.member\.\d+$/.test(k)).map(([, v]) => v);
        const duration = Number(form.get("DurationSeconds") ?? 300);
        if (audiences.length === 0) return stsError(400, "ValidationError", "Audience is required.");
        if (!Number.isInteger(duration) || duration < 60 || duration > 3600) return stsError(400, "ValidationError", "DurationSeconds must be between 60 and 3600.");
        if (!["RS256", "ES384"].includes(form.get("SigningAlgorithm") ?? "")) return stsError(400, "ValidationError", "SigningAlgorithm must be RS256 or ES384.");
        const caller = result.credentials.arn;
        const role = caller.replace(/^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.*$/, "arn:$1:iam::$2:role/$3");
        const token = await outbound.sign({ aud: audiences.length === 1 ? audiences[0] : audiences, sub: role, principal_id: caller }, duration);
        tokens.push(token);
        return {
          status: 200,
          headers: { "content-type": "text/xml" },
          body: `<GetWebIdentityTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetWebIdentityTokenResult><WebIdentityToken>${token}</WebIdentityToken><Expiration>${new Date(clock.now() + duration * 1000).toISOString()}</Expiration></GetWebIdentityTokenResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></GetWebIdentityTokenResponse>`,
        };
      },
    },
    {
      endpoint: "aws.sts.unknown-action",
      match: (req) => req.method === "POST",
      handle: () => stsError(400, "InvalidAction", "Could not find operation"),
    },
  ];
  return routes.map((route) => ({ ...route, handle: (req: EmulatedRequest) => (noteToken(req, tokens), route.handle(req)) }));
}

function noteToken(req: EmulatedRequest, tokens: string[]): void {
  const token = new URLSearchParams(req.body.toString("utf8")).get("WebIdentityToken");
  if (token) tokens.push(token);
}

async function assumeRoleWithWebIdentity(form: URLSearchParams, scenario: AwsScenario, issuers: IssuerRegistry, keys: AwsKeyStore, clock: Clock): Promise<EmulatedResponse> {
  const roleArn = form.get("RoleArn") ?? "";
  const sessionName = form.get("RoleSessionName") ?? "";
  const token = form.get("WebIdentityToken") ?? "";
  const durationText = form.get("DurationSeconds");
  if (form.get("Version") !== "2011-06-15") return stsError(400, "InvalidParameterValue", "Version must be 2011-06-15");
  if (!/^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn)) return stsError(400, "ValidationError", `1 validation error detected: Value '${roleArn}' at 'roleArn' failed to satisfy constraint`);
  if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) return stsError(400, "ValidationError", `1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`);
  const duration = durationText === null ? 3600 : Number(durationText);
  if (!Number.isInteger(duration) || duration < 900 || duration > 43200) return stsError(400, "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200");
  if (token.length < 4 || token.length > 20_000) return stsError(400, "ValidationError", "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000");

  let claims: Record<string, unknown>;
  try {
    claims = await issuers.verify(token);
  } catch (error) {
    const reason = error instanceof TokenVerificationError ? error.reason : "malformed";
    if (reason === "expired") return stsError(400, "ExpiredTokenException", "Token expired: current date/time must be before the expiration date/time.");
    if (reason === "unknown-issuer") return stsError(400, "InvalidIdentityToken", "No OpenIDConnect provider found in your account for the token's issuer");
    if (reason === "bad-signature") return stsError(400, "InvalidIdentityToken", "Couldn't verify the token's signature with the keys of its issuer");
    return stsError(400, "InvalidIdentityToken", "The ID Token provided is not a valid JWT");
  }
  const iss = String(claims["iss"]);
  const provider = iss.replace(/^https:\/\//, "");
  const aud = Array.isArray(claims["aud"]) ? (claims["aud"] as unknown[]).map(String) : [String(claims["aud"])];
  if (!BUILT_IN_PROVIDERS.has(provider)) {
    const registered = scenario.oidcProviders.find((p) => p.url.replace(/^https:\/\//, "") === provider);
    if (registered === undefined) return stsError(400, "InvalidIdentityToken", `No OpenIDConnect provider found in your account for ${iss}`);
    if (!aud.some((a) => registered.clientIds.includes(a))) return stsError(400, "InvalidIdentityToken", "Incorrect token audience");
  }
  const role = scenario.roles.find((r) => r.arn === roleArn);
  const denied = () => stsError(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity");
  if (role === undefined) return denied();
  // IAM maps the condition keys to claims; for Google, :aud is the azp claim when there is one, and :oaud the aud claim.
  const keyValues = (key: string): string[] => {
    const claim = key.slice(provider.length + 1);
    if (provider === "accounts.google.com" && claim === "aud") return [String(claims["azp"] ?? claims["aud"])];
    if (provider === "accounts.google.com" && claim === "oaud") return aud;
    if (claim === "aud") return aud;
    const value = claims[claim];
    return value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];
  };
  const trusted = role.trust.some(
    (statement) =>
      statement.provider === provider &&
      Object.entries(statement.conditions).every(([key, allowed]) => {
        const wanted = typeof allowed === "string" ? [allowed] : allowed;
        return key.startsWith(`${provider}:`) && keyValues(key).some((v) => wanted.includes(v));
      }),
  );
  if (!trusted) return denied();
  if (duration > (role.maxSessionDurationSeconds ?? 3600)) return stsError(400, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.");

  const accountId = roleArn.split(":")[4] ?? scenario.accountId;
  const roleName = roleArn.split("/").pop() ?? "role";
  const assumedArn = `arn:aws:sts::${accountId}:assumed-role/${roleName}/${sessionName}`;
  const expiresAt = clock.now() + duration * 1000;
  const creds = keys.issue(assumedArn, accountId, expiresAt);
  return {
    status: 200,
    headers: { "content-type": "text/xml" },
    body: `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>${xmlEscape(String(claims["sub"]))}</SubjectFromWebIdentityToken><Audience>${xmlEscape(aud[0] ?? "")}</Audience><AssumedRoleUser><Arn>${xmlEscape(assumedArn)}</Arn><AssumedRoleId>AROA${randomBytes(8).toString("hex").toUpperCase()}:${xmlEscape(sessionName)}</AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>${creds.accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(creds.secretAccessKey)}</SecretAccessKey><SessionToken>${xmlEscape(creds.sessionToken ?? "")}</SessionToken><Expiration>${new Date(expiresAt).toISOString()}</Expiration></Credentials><Provider>${xmlEscape(provider)}</Provider></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
  };
}

/** The parts of a request SigV4 covers. */
export function toSigV4Input(req: EmulatedRequest, payloadHash?: string): Parameters<typeof verifySigV4>[0] {
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of req.url.searchParams) {
    const existing = query[k];
    query[k] = existing === undefined ? v : Array.isArray(existing) ? [...existing, v] : [existing, v];
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(",") : v;
  return { method: req.method, host: headers["host"] ?? "", path: rawPath(req), query, headers, body: req.body, ...(payloadHash === undefined ? {} : { payloadHash }) };
}

function rawPath(req: EmulatedRequest): string {
  return req.url.pathname;
}

interface S3Object {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** An S3 endpoint (path-style) that answers only requests signed with keys the emulated AWS issued. */
export function s3Routes(keys: AwsKeyStore, clock: Clock, buckets: Map<string, Map<string, S3Object>>, seen: { accessKeyIds: string[] }): Route[] {
  const s3Error = (status: number, code: string, message: string): EmulatedResponse => ({
    status,
    headers: { "content-type": "application/xml" },
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message><RequestId>${randomUUID()}</RequestId></Error>`,
  });
  const authorize = async (req: EmulatedRequest): Promise<{ error?: EmulatedResponse; body: Buffer }> => {
    const declared = String(req.headers["x-amz-content-sha256"] ?? "");
    let body = req.body;
    if (declared.startsWith("STREAMING-")) body = decodeAwsChunked(req.body);
    else if (declared !== "UNSIGNED-PAYLOAD" && declared !== sha256Hex(req.body)) return { error: s3Error(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."), body };
    const result = await verifySigV4(toSigV4Input(req), (id) => keys.get(id), clock.now(), false);
    if (!result.ok) {
      const code = result.failure === "expired-key" ? "ExpiredToken" : result.failure === "unknown-key" || result.failure === "bad-token" ? "InvalidAccessKeyId" : result.failure === "stale" ? "RequestTimeTooSkewed" : "SignatureDoesNotMatch";
      return { error: s3Error(403, code, result.message ?? "denied"), body };
    }
    const id = /Credential=([^/]+)/.exec(String(req.headers["authorization"]))?.[1];
    if (id) seen.accessKeyIds.push(id);
    return { body };
  };
  const parts = (req: EmulatedRequest) => {
    const [, bucket = "", ...rest] = req.url.pathname.split("/");
    return { bucket: decodeURIComponent(bucket), key: rest.map(decodeURIComponent).join("/") };
  };
  const signed = (endpoint: string, match: (req: EmulatedRequest) => boolean, handle: (req: EmulatedRequest, body: Buffer) => EmulatedResponse): Route => ({
    endpoint,
    match,
    handle: async (req) => {
      const auth = await authorize(req);
      return auth.error ?? handle(req, auth.body);
    },
  });
  return [
    signed("aws.s3.CreateBucket", (r) => r.method === "PUT" && parts(r).key === "" && parts(r).bucket !== "", (req) => {
      const { bucket } = parts(req);
      if (!buckets.has(bucket)) buckets.set(bucket, new Map());
      return { status: 200, headers: { location: `/${bucket}` } };
    }),
    signed("aws.s3.PutObject", (r) => r.method === "PUT" && parts(r).key !== "", (req, body) => {
      const { bucket, key } = parts(req);
      const store = buckets.get(bucket);
      if (!store) return s3Error(404, "NoSuchBucket", "The specified bucket does not exist");
      const etag = `"${sha256Hex(body).slice(0, 32)}"`;
      store.set(key, { body, contentType: String(req.headers["content-type"] ?? "application/octet-stream"), etag });
      return { status: 200, headers: { etag } };
    }),
    signed("aws.s3.GetObject", (r) => r.method === "GET" && parts(r).key !== "", (req) => {
      const { bucket, key } = parts(req);
      const object = buckets.get(bucket)?.get(key);
      if (!object) return s3Error(404, "NoSuchKey", "The specified key does not exist.");
      return { status: 200, headers: { "content-type": object.contentType, etag: object.etag }, body: object.body };
    }),
    signed("aws.s3.ListObjectsV2", (r) => r.method === "GET" && parts(r).key === "" && parts(r).bucket !== "", (req) => {
      const { bucket } = parts(req);
      const store = buckets.get(bucket);
      if (!store) return s3Error(404, "NoSuchBucket", "The specified bucket does not exist");
      const contents = [...store.entries()].map(([k, o]) => `<Contents><Key>${xmlEscape(k)}</Key><Size>${o.body.length}</Size><ETag>${xmlEscape(o.etag)}</ETag></Contents>`).join("");
      return { status: 200, headers: { "content-type": "application/xml" }, body: `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${xmlEscape(bucket)}</Name><KeyCount>${store.size}</KeyCount><IsTruncated>false</IsTruncated>${contents}</ListBucketResult>` };
    }),
  ];
}

function decodeAwsChunked(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", offset);
    if (lineEnd < 0) break;
    const size = parseInt(body.subarray(offset, lineEnd).toString("latin1").split(";")[0] ?? "0", 16);
    if (!(size > 0)) break;
    out.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** IMDSv2 (session token required) and the ECS/EKS container credentials endpoint. */
export function awsWorkloadRoutes(scenario: AwsScenario, keys: AwsKeyStore, clock: Clock, containerAuthToken: string): Route[] {
  const sessions = new Map<string, number>();
  const roleName = scenario.workloadRoleArn.split("/").pop() ?? "workload";
  let current: IssuedAwsCredentials | undefined;
  const workloadCredentials = () => {
    const lifetime = (scenario.workloadCredentialSeconds ?? 6 * 3600) * 1000;
    // Like EC2: the same credentials until they are within 15 minutes of expiry.
    if (current === undefined || current.expiresAt - clock.now() < 15 * 60_000) {
      current = keys.issue(`arn:aws:sts::${scenario.accountId}:assumed-role/${roleName}/i-0123456789abcdef0`, scenario.accountId, clock.now() + lifetime);
    }
    return current;
  };
  const requireSession = (req: EmulatedRequest): EmulatedResponse | undefined => {
    const token = req.headers["x-aws-ec2-metadata-token"];
    const expiry = typeof token === "string" ? sessions.get(token) : undefined;
    if (expiry === undefined || expiry <= clock.now()) return { status: 401, body: "" };
    return undefined;
  };
  const text = (body: string): EmulatedResponse => ({ status: 200, headers: { "content-type": "text/plain" }, body });
  return [
    {
      endpoint: "aws.imds.token",
      match: (r) => r.url.pathname === "/latest/api/token",
      handle: (req) => {
        if (req.method !== "PUT") return { status: 405, body: "" };
        const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
        if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return { status: 400, body: "" };
        const token = randomBytes(32).toString("base64url");
        sessions.set(token, clock.now() + ttl * 1000);
        return { status: 200, headers: { "content-type": "text/plain", "x-aws-ec2-metadata-token-ttl-seconds": String(ttl) }, body: token };
      },
    },
    {
      endpoint: "aws.imds.region",
      match: (r) => r.url.pathname === "/latest/meta-data/placement/region",
      handle: (req) => requireSession(req) ?? text(scenario.region),
    },
    {
      endpoint: "aws.imds.availability-zone",
      match: (r) => r.url.pathname === "/latest/meta-data/placement/availability-zone",
      handle: (req) => requireSession(req) ?? text(`${scenario.region}a`),
    },
    {
      endpoint: "aws.imds.role-name",
      match: (r) => r.url.pathname === "/latest/meta-data/iam/security-credentials/" || r.url.pathname === "/latest/meta-data/iam/security-credentials",
      handle: (req) => requireSession(req) ?? text(roleName),
    },
    {
      endpoint: "aws.imds.credentials",
      match: (r) => r.url.pathname.startsWith("/latest/meta-data/iam/security-credentials/"),
      handle: (req) => {
        const denied = requireSession(req);
        if (denied) return denied;
        if (!req.url.pathname.endsWith(`/${roleName}`)) return { status: 404, body: "" };
        const c = workloadCredentials();
        // IMDS answers JSON as text/plain.
        return text(JSON.stringify({ Code: "Success", LastUpdated: new Date(clock.now()).toISOString(), Type: "AWS-HMAC", AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, Token: c.sessionToken, Expiration: new Date(c.expiresAt).toISOString() }));
      },
    },
    {
      endpoint: "aws.container.credentials",
      match: (r) => r.url.pathname === "/v2/credentials/keyless",
      handle: (req) => {
        if (req.headers["authorization"] !== containerAuthToken) return json(401, { message: "unauthorized" });
        const c = workloadCredentials();
        return json(200, { AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, Token: c.sessionToken, Expiration: new Date(c.expiresAt).toISOString(), RoleArn: scenario.workloadRoleArn });
      },
    },
  ];
}
