/**
 * @module gcp/credential-config
 * `fromCredentialConfig`: the `external_account` file `gcloud iam workload-identity-pools
 * create-cred-config` writes, validated before any request (unlike google-auth-library, which
 * sends the signed AWS request wherever the file says).
 */
import { readFileSync, statSync } from "node:fs";
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { KeylessError } from "../core/errors.js";
import { assertEndpointAllowed, isMetadataHost, parseJsonObject, request, type TransportOptions } from "../core/http.js";
import { decodeJwt } from "../core/jwt.js";
import { transportOf } from "../core/options.js";
import { tokenFile } from "../sources/token-file.js";
import type { TokenSource } from "../sources/types.js";
import { AwsWorkloadClient } from "./aws-workload-client.js";
import { AzureWorkloadClient } from "./azure-workload-client.js";
import type { GoogleClientOptions } from "./keyless-auth-client.js";
import { WorkloadIdentityClient, type SubjectToken } from "./workload-identity-client.js";

export interface CredentialConfigOptions extends GoogleClientOptions, TransportOptions {
  /** Origins (`https://sts.example.internal`, `http://127.0.0.1:8080`) that the file may use besides Google's and the metadata addresses. */
  allowEndpoints?: readonly string[];
  /** AWS configs: the workload's AWS credentials. Default the AWS SDK's chain. */
  awsCredentials?: AwsCredentialIdentityProvider;
  /** AWS configs: the region. Default `AWS_REGION`, `AWS_DEFAULT_REGION`, else IMDS. */
  region?: string;
}

const STEP = "credential-config";
const MAX_FILE_BYTES = 64 * 1024;
const MAX_VALUE_CHARS = 4096;

type Json = Record<string, unknown>;

function configError(message: string, hint?: string): KeylessError {
  return new KeylessError("ERR_CONFIG", message, { step: STEP, ...(hint ? { hint } : {}) });
}

function load(input: string | Json | undefined): Json {
  if (input !== undefined && typeof input === "object") return input;
  const source = input ?? process.env["GOOGLE_APPLICATION_CREDENTIALS"];
  if (source === undefined || source === "") throw configError("No credential configuration: pass one, or set GOOGLE_APPLICATION_CREDENTIALS to its path.");
  let text = source;
  if (!source.trimStart().startsWith("{")) {
    let size: number;
    try {
      size = statSync(source).size;
    } catch (cause) {
      throw new KeylessError("ERR_CONFIG", `Cannot read the credential configuration ${source}.`, { step: STEP, cause });
    }
    if (size > MAX_FILE_BYTES) throw configError(`The credential configuration ${source} is ${size} bytes; a real one is under ${MAX_FILE_BYTES}.`);
    text = readFileSync(source, "utf8");
  } else if (source.length > MAX_FILE_BYTES) {
    throw configError(`The credential configuration is ${source.length} characters; a real one is under ${MAX_FILE_BYTES}.`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Json;
  } catch {
    // fall through
  }
  throw configError("The credential configuration is not a JSON object.");
}

function checkSizes(value: unknown, path: string, depth = 0): void {
  if (depth > 5) throw configError(`The credential configuration nests too deeply at ${path}.`);
  if (typeof value === "string" && value.length > MAX_VALUE_CHARS) throw configError(`${path} is ${value.length} characters long; refusing oversized values.`);
  if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) checkSizes(v, `${path}.${k}`, depth + 1);
}

function str(obj: Json, key: string, path: string, required = true): string | undefined {
  const v = obj[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || v === "") throw configError(`${path}.${key} must be a non-empty string.`);
  return v;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function googleHost(kind: "sts" | "iamcredentials", universe: string): RegExp {
  const u = escape(universe);
  return new RegExp(`^(?:${kind}(?:\\.mtls)?\\.${u}|${kind}\\.[a-z0-9-]+\\.rep\\.${u}|${kind}-[a-z0-9-]+\\.p(?:\\.mtls)?\\.${u}|[a-z0-9-]+-${kind}(?:\\.mtls)?\\.${u}|[a-z0-9-]+\\.${kind}(?:\\.mtls)?\\.${u})$`);
}

/** Throws unless `value` is an https URL on a host `allowed` accepts, or on an explicitly allowed origin. */
function checkUrl(value: string, field: string, allowed: (url: URL) => boolean, allowEndpoints: readonly string[], why: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw configError(`${field} is not a URL.`);
  }
  const origins = new Set(allowEndpoints.map((o) => new URL(o).origin));
  if (origins.has(url.origin)) return assertEndpointAllowed(url, STEP);
  if (!allowed(url)) {
    throw new KeylessError("ERR_ENDPOINT_NOT_ALLOWED", `${field} points at ${url.protocol}//${url.host}, which is not ${why}. A credential configuration from an untrusted place could otherwise send your credentials anywhere.`, {
      step: STEP,
      hint: `If this endpoint is yours (a proxy or private endpoint), pass allowEndpoints: ["${url.origin}"].`,
    });
  }
  return url;
}

const https = (host: RegExp) => (url: URL) => url.protocol === "https:" && host.test(url.hostname) && (url.port === "" || url.port === "443");
const metadata = (url: URL) => url.protocol === "http:" && isMetadataHost(url.hostname) && ["169.254.169.254", "[fd00:ec2::254]", "fd00:ec2::254"].includes(url.hostname);

/**
 * A Google `AuthClient` from an `external_account` credential configuration (object, JSON text or
 * path; default `GOOGLE_APPLICATION_CREDENTIALS`): AWS, Azure-IMDS url, other url and file sources.
 */
export function fromCredentialConfig(config?: string | Json, options: CredentialConfigOptions = {}): WorkloadIdentityClient {
  const json = load(config);
  checkSizes(json, "config");
  const type = json["type"];
  if (type !== "external_account") {
    throw new KeylessError("ERR_UNSUPPORTED", `Credential configurations of type ${JSON.stringify(type)} are not supported: keyless handles workload identity federation (type external_account).`, {
      step: STEP,
      hint: type === "service_account" ? "A service account key is exactly the stored secret keyless exists to remove: set up workload identity federation instead." : undefined,
    });
  }
  const audience = str(json, "audience", "config") as string;
  if (audience.includes("/workforcePools/") || json["workforce_pool_user_project"] !== undefined) {
    throw new KeylessError("ERR_UNSUPPORTED", "Workforce identity pools (human users) are not supported; keyless federates workloads.", { step: STEP });
  }
  const universe = typeof json["universe_domain"] === "string" ? json["universe_domain"] : options.universeDomain ?? "googleapis.com";
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(universe)) throw configError("universe_domain is not a domain name.");
  const allow = options.allowEndpoints ?? [];
  const tokenUrl = checkUrl(str(json, "token_url", "config", false) ?? `https://sts.${universe}/v1/token`, "token_url", https(googleHost("sts", universe)), allow, `Google STS (https://sts.${universe})`).href;
  const saRaw = str(json, "service_account_impersonation_url", "config", false);
  let serviceAccountImpersonationUrl: string | undefined;
  if (saRaw !== undefined) {
    const url = checkUrl(saRaw, "service_account_impersonation_url", https(googleHost("iamcredentials", universe)), allow, `IAM Credentials (https://iamcredentials.${universe})`);
    if (!/^\/v1\/projects\/-\/serviceAccounts\/[^/:]+:generateAccessToken$/.test(url.pathname)) throw configError("service_account_impersonation_url must end in /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken.");
    serviceAccountImpersonationUrl = url.href;
  }
  const impersonation = (json["service_account_impersonation"] ?? {}) as Json;
  const lifetime = impersonation["token_lifetime_seconds"];
  if (lifetime !== undefined && typeof lifetime !== "number") throw configError("service_account_impersonation.token_lifetime_seconds must be a number.");
  const source = json["credential_source"];
  if (source === null || typeof source !== "object") throw configError("credential_source is missing.");
  const cs = source as Json;
  const subjectType = str(json, "subject_token_type", "config") as string;
  const common = {
    ...options,
    audience,
    universeDomain: universe,
    tokenUrl,
    ...(serviceAccountImpersonationUrl ? { serviceAccountImpersonationUrl } : {}),
    ...(typeof lifetime === "number" ? { tokenLifetimeSeconds: lifetime } : {}),
    ...(typeof json["quota_project_id"] === "string" ? { quotaProjectId: json["quota_project_id"] } : {}),
  };

  if (cs["executable"] !== undefined) {
    throw new KeylessError("ERR_UNSUPPORTED", "Executable-sourced credentials are not supported by fromCredentialConfig (keyless is itself the better source: use AwsWorkloadClient or AzureWorkloadClient).", { step: STEP });
  }
  if (typeof cs["environment_id"] === "string") {
    if (!/^aws1$/.test(cs["environment_id"])) throw new KeylessError("ERR_UNSUPPORTED", `credential_source.environment_id ${JSON.stringify(cs["environment_id"])} is not supported (only aws1).`, { step: STEP });
    if (subjectType !== "urn:ietf:params:aws:token-type:aws4_request") throw configError("An AWS credential source needs subject_token_type urn:ietf:params:aws:token-type:aws4_request.");
    const imds = ["url", "region_url", "imdsv2_session_token_url"].map((field) => {
      const v = str(cs, field, "credential_source", false);
      return v === undefined ? undefined : checkUrl(v, `credential_source.${field}`, metadata, allow, "the EC2 metadata address (169.254.169.254 or fd00:ec2::254)");
    });
    const verification = str(cs, "regional_cred_verification_url", "credential_source") as string;
    const template = verification.replace("{region}", "region-placeholder");
    const vurl = checkUrl(template, "credential_source.regional_cred_verification_url", (u) => u.protocol === "https:" && /^sts\.region-placeholder\.amazonaws\.com(\.cn)?$/.test(u.hostname), [], "AWS STS (https://sts.{region}.amazonaws.com)");
    if (vurl.searchParams.get("Action") !== "GetCallerIdentity") throw configError("credential_source.regional_cred_verification_url must be a GetCallerIdentity request.");
    const imdsOrigin = imds.find((u) => u !== undefined)?.origin;
    return new AwsWorkloadClient({
      ...common,
      regionalCredVerificationUrl: verification,
      ...(imdsOrigin ? { imdsEndpoint: imdsOrigin } : {}),
      ...(imds[1] ? { availabilityZoneUrl: imds[1].href } : {}),
      ...(options.awsCredentials ? { awsCredentials: options.awsCredentials } : {}),
      ...(options.region ? { region: options.region } : {}),
    });
  }
  if (subjectType !== "urn:ietf:params:oauth:token-type:jwt" && subjectType !== "urn:ietf:params:oauth:token-type:id_token") {
    throw new KeylessError("ERR_UNSUPPORTED", `subject_token_type ${subjectType} is not supported for file and url sources (SAML is not).`, { step: STEP });
  }
  const format = (cs["format"] ?? { type: "text" }) as Json;
  const field = format["type"] === "json" ? str(format, "subject_token_field_name", "credential_source.format") : undefined;
  if (format["type"] !== "json" && format["type"] !== "text" && format["type"] !== undefined) throw configError("credential_source.format.type must be text or json.");
  const tokenType = subjectType as SubjectToken["type"];

  if (typeof cs["file"] === "string") {
    const read = tokenFileWithFormat(cs["file"], field);
    return new WorkloadIdentityClient(common, subjectFrom(read, tokenType), { source: "file", file: cs["file"], field });
  }
  if (typeof cs["url"] === "string") {
    const url = checkUrl(cs["url"], "credential_source.url", metadata, allow, "a metadata address (169.254.169.254)");
    const headers = (cs["headers"] ?? {}) as Record<string, unknown>;
    if (url.pathname === "/metadata/identity/oauth2/token" && field === "access_token") {
      // Azure IMDS: keyless's managed identity source (retries per IMDS's rules, App Service detection).
      const resource = url.searchParams.get("resource");
      if (!resource) throw configError("The Azure IMDS url has no resource parameter.");
      return new AzureWorkloadClient({
        ...common,
        resource,
        imdsBaseUrl: url.origin,
        ...(url.searchParams.get("client_id") ? { managedIdentityClientId: url.searchParams.get("client_id") as string } : {}),
        ...(url.searchParams.get("object_id") ? { managedIdentityObjectId: url.searchParams.get("object_id") as string } : {}),
        ...(url.searchParams.get("msi_res_id") ? { managedIdentityResourceId: url.searchParams.get("msi_res_id") as string } : {}),
      });
    }
    const transport = transportOf(options);
    const read: TokenSource = async () => {
      const response = await request({ ...transport, url, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])), step: "url-token-source" });
      if (response.status !== 200) throw new KeylessError("ERR_TOKEN_SOURCE", `The credential source URL answered HTTP ${response.status}.`, { step: "url-token-source", status: response.status, retryable: response.status === 429 || response.status >= 500 });
      const token = field === undefined ? response.body.toString("utf8").trim() : parseJsonObject(response, "url-token-source", "the credential source")[field];
      if (typeof token !== "string" || token === "") throw new KeylessError("ERR_RESPONSE_MALFORMED", `The credential source answer has no ${field ?? "token"}.`, { step: "url-token-source" });
      return token;
    };
    return new WorkloadIdentityClient(common, subjectFrom(read, tokenType), { source: "url", url: url.href, field });
  }
  throw configError("credential_source must have environment_id (AWS), file or url.");
}

function tokenFileWithFormat(path: string, field: string | undefined): TokenSource {
  if (field === undefined) return tokenFile(path);
  return async () => {
    const text = readFileSync(path, "utf8");
    if (text.length > MAX_FILE_BYTES) throw new KeylessError("ERR_TOKEN_SOURCE", `The token file ${path} is too large.`, { step: "token-file" });
    const value = (JSON.parse(text) as Json)[field];
    if (typeof value !== "string") throw new KeylessError("ERR_TOKEN_SOURCE", `The token file ${path} has no ${field} field.`, { step: "token-file" });
    return value;
  };
}

function subjectFrom(read: TokenSource, type: SubjectToken["type"]): () => Promise<SubjectToken> {
  return async () => {
    const token = await read();
    let sub: string | undefined;
    try {
      sub = decodeJwt(token).sub;
    } catch {
      sub = undefined;
    }
    return { token, type, caller: async () => sub, principalHint: async () => (sub ? `subject/${sub}` : undefined) };
  };
}
