/**
 * @module aws/from-web-identity
 * AWS credentials for any OIDC token through STS `AssumeRoleWithWebIdentity`, behind keyless's
 * non-blocking refresh. `fromGcpWorkload` and `fromAzureWorkload` are thin wrappers over it.
 */
import { hostname } from "node:os";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { systemClock } from "../core/clock.js";
import { KeylessError } from "../core/errors.js";
import { cacheKey, RefreshingCache, sharedCache } from "../core/refresh.js";
import { refreshOptionsOf, transportOf, type CommonCredentialOptions } from "../core/options.js";
import { tokenFile } from "../sources/token-file.js";
import { assertFresh } from "../core/jwt.js";
import type { TokenSource } from "../sources/types.js";
import { assumeRoleWithWebIdentity, stsEndpoint } from "./sts.js";

/** Temporary AWS credentials as keyless returns them: always with a session token, expiry and account id. */
export type AwsTemporaryCredentials = AwsCredentialIdentity & { sessionToken: string; expiration: Date; accountId: string };

/** An `AwsCredentialIdentityProvider` that the AWS SDK uses as is (it carries `memoized = true`). */
export type KeylessAwsCredentialProvider = ((props?: Parameters<AwsCredentialIdentityProvider>[0]) => Promise<AwsTemporaryCredentials>) & { memoized: true };

export interface AssumeRoleOptions extends CommonCredentialOptions {
  /** Role to assume. Default `AWS_ROLE_ARN`. */
  roleArn?: string;
  /** Session name (`[\w+=,.@-]{2,64}`), shown in CloudTrail. Default `AWS_ROLE_SESSION_NAME`, else `keyless-<hostname>`. */
  roleSessionName?: string;
  /** Credential lifetime in seconds, 900 to 43200 (capped by the role's maximum). Default 3600. */
  durationSeconds?: number;
  /** STS region. Default: the calling client's region, else `AWS_REGION`, else `AWS_DEFAULT_REGION`. */
  region?: string;
  /** STS endpoint URL. Default `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else the regional endpoint. */
  endpoint?: string;
  /** An inline session policy (JSON) further restricting the role. */
  policy?: string;
  /** Managed session policy ARNs further restricting the role. */
  policyArns?: readonly string[];
  /** OAuth 2.0 provider id (only for Login with Amazon and Facebook tokens). */
  providerId?: string;
}

export interface WebIdentityOptions extends AssumeRoleOptions {
  /** The web identity token: a function returning a fresh JWT, or the path of a file re-read on each refresh (Kubernetes projected tokens). */
  token: TokenSource | string;
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

/** `keyless-<hostname>`, cut to STS's rules. */
export function defaultSessionName(): string {
  const name = `keyless-${hostname()}`.replace(/[^\w+=,.@-]/g, "-").slice(0, 64);
  return name.length >= 2 ? name : "keyless";
}

/** AWS credentials for the OIDC token `token`, refreshed ahead of expiry without blocking callers. */
export function fromWebIdentity(options: WebIdentityOptions): KeylessAwsCredentialProvider {
  const token = options.token;
  if (typeof token !== "function" && typeof token !== "string") {
    throw new KeylessError("ERR_CONFIG", "fromWebIdentity needs `token`: a function returning a JWT, or a token file path.", { step: "config" });
  }
  const source = typeof token === "string" ? tokenFile(token) : token;
  return webIdentityProvider(options, source, typeof token === "string" ? { tokenFile: token } : { token });
}

/**
 * @internal The provider under every `keyless/aws` factory. `sourceKey` identifies the token source
 * for the process-wide cache (a file path, a metadata audience, or the user's function).
 */
export function webIdentityProvider(options: AssumeRoleOptions, source: TokenSource, sourceKey: Record<string, unknown>): KeylessAwsCredentialProvider {
  const roleArn = options.roleArn ?? process.env["AWS_ROLE_ARN"];
  if (roleArn === undefined || !ROLE_ARN.test(roleArn)) {
    throw new KeylessError("ERR_CONFIG", roleArn === undefined ? "No role to assume: pass roleArn or set AWS_ROLE_ARN." : `roleArn ${JSON.stringify(roleArn.slice(0, 200))} is not an IAM role ARN.`, {
      step: "config",
      hint: "An IAM role ARN looks like arn:aws:iam::123456789012:role/name.",
    });
  }
  const roleSessionName = options.roleSessionName ?? process.env["AWS_ROLE_SESSION_NAME"] ?? defaultSessionName();
  if (!SESSION_NAME.test(roleSessionName)) {
    throw new KeylessError("ERR_CONFIG", `roleSessionName ${JSON.stringify(roleSessionName.slice(0, 100))} is not valid: STS takes 2 to 64 characters of letters, digits and +=,.@_-.`, { step: "config" });
  }
  const durationSeconds = options.durationSeconds ?? 3600;
  if (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43_200) {
    throw new KeylessError("ERR_CONFIG", `durationSeconds must be a whole number from 900 to 43200 (got ${String(durationSeconds)}).`, { step: "config" });
  }
  if (options.policy !== undefined && (options.policy.length > 2048 || !isJson(options.policy))) {
    throw new KeylessError("ERR_CONFIG", "policy must be a JSON policy document of at most 2048 characters.", { step: "config" });
  }
  for (const arn of options.policyArns ?? []) {
    if (!/^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\/.+$/.test(arn)) throw new KeylessError("ERR_CONFIG", `policyArns: ${JSON.stringify(arn.slice(0, 200))} is not a managed policy ARN.`, { step: "config" });
  }
  const endpoint = stsEndpoint(options.endpoint);
  const transport = transportOf(options);
  const clock = options.clock ?? systemClock;
  const params = {
    roleArn,
    roleSessionName,
    durationSeconds,
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    ...(options.policyArns === undefined ? {} : { policyArns: options.policyArns }),
    ...(options.providerId === undefined ? {} : { providerId: options.providerId }),
  };
  const fixedRegion = options.region ?? undefined;
  const caches = new Map<string, RefreshingCache<AwsTemporaryCredentials>>();

  const cacheFor = (region: string): RefreshingCache<AwsTemporaryCredentials> => {
    let cache = caches.get(region);
    if (cache === undefined) {
      const create = () =>
        new RefreshingCache<AwsTemporaryCredentials>(
          async () => {
            const jwt = await source();
            assertFresh(jwt, clock.now(), "web-identity-token");
            const assumed = await assumeRoleWithWebIdentity(params, jwt, region, endpoint, transport, () => clock.now());
            return { value: assumed.credentials, expiresAt: assumed.expiresAt };
          },
          { name: `aws:${roleArn}`, ...refreshOptionsOf(options) },
        );
      const key = cacheKey("aws:web-identity", { source: sourceKey, ...params, region, endpoint: endpoint?.href, ...transport, clock: options.clock, onEvent: options.onEvent, hardMarginMs: options.hardMarginMs });
      cache = options.shareCache === false ? create() : sharedCache(key, create);
      caches.set(region, cache);
    }
    return cache;
  };
  const envRegion = () => process.env["AWS_REGION"] || process.env["AWS_DEFAULT_REGION"] || undefined;
  const noRegion = () =>
    new KeylessError("ERR_CONFIG", "No AWS region for STS: pass region, use the provider from a client that has one, or set AWS_REGION.", { step: "config" });

  const fixed = fixedRegion === undefined ? undefined : cacheFor(fixedRegion);
  const provider = ((props?: Parameters<AwsCredentialIdentityProvider>[0]): Promise<AwsTemporaryCredentials> => {
    if (fixed !== undefined) return fixed.get();
    const callerRegion = (props?.callerClientConfig as { region?: () => Promise<string> } | undefined)?.region;
    if (callerRegion !== undefined) {
      return callerRegion().then((region) => {
        const chosen = region || envRegion();
        if (!chosen) throw noRegion();
        return cacheFor(chosen).get();
      });
    }
    const region = envRegion();
    return region === undefined ? Promise.reject(noRegion()) : cacheFor(region).get();
  }) as KeylessAwsCredentialProvider;
  provider.memoized = true;
  return provider;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
