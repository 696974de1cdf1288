/**
 * @module gcp/keyless-auth-client
 * The `AuthClient` under every `keyless/gcp` credential: a subclass of the user's own
 * google-auth-library (a peer dependency, so `@google-cloud/*` clients accept it), whose tokens
 * come from keyless's refresh core instead of google-auth-library's blocking refresh.
 */
import { AuthClient } from "google-auth-library";
import { KeylessError } from "../core/errors.js";
import { cacheKey, RefreshingCache, sharedCache } from "../core/refresh.js";
import { refreshOptionsOf, type CommonCredentialOptions } from "../core/options.js";
import type { GoogleAccessToken } from "./google-sts.js";

export interface GoogleClientOptions extends CommonCredentialOptions {
  /** Project the Google clients bill and default to. Default `GOOGLE_CLOUD_PROJECT`, else `GCLOUD_PROJECT`. Passing it spares the clients a metadata-server probe (3 s off GCP). */
  projectId?: string;
  /** Project charged for quota (`x-goog-user-project`). */
  quotaProjectId?: string;
  /** Universe domain. Default `googleapis.com`. */
  universeDomain?: string;
}

// google-auth-library does not export gaxios's types; derive them from its transporter.
declare const transporter: AuthClient["transporter"];
type GaxiosOptions = Parameters<AuthClient["request"]>[0];
type GaxiosPromise<T> = ReturnType<typeof transporter.request<T>>;

/** A fetch of a fresh Google access token, and what identifies its configuration for sharing. */
export interface TokenFetcher {
  name: string;
  key: Record<string, unknown>;
  fetch: () => Promise<GoogleAccessToken>;
}

/** An `AuthClient` whose access tokens come from keyless's shared refresh core. */
export class KeylessAuthClient extends AuthClient {
  readonly #cache: RefreshingCache<GoogleAccessToken>;

  constructor(options: GoogleClientOptions, fetcher: TokenFetcher) {
    super({
      ...(options.universeDomain === undefined ? {} : { universeDomain: options.universeDomain }),
      ...(options.quotaProjectId === undefined ? {} : { quotaProjectId: options.quotaProjectId }),
    });
    this.projectId = options.projectId ?? process.env["GOOGLE_CLOUD_PROJECT"] ?? process.env["GCLOUD_PROJECT"] ?? null;
    // google-auth-library's own eager refresh never applies: keyless refreshes ahead, without blocking.
    this.eagerRefreshThresholdMillis = 0;
    const create = () => new RefreshingCache<GoogleAccessToken>(async () => {
      const t = await fetcher.fetch();
      return { value: t, expiresAt: t.expiresAt };
    }, { name: fetcher.name, ...refreshOptionsOf(options) });
    const key = cacheKey("gcp", { ...fetcher.key, clock: options.clock, onEvent: options.onEvent, hardMarginMs: options.hardMarginMs, retry: options.retry, cooldownMs: options.cooldownMs });
    this.#cache = options.shareCache === false ? create() : sharedCache(key, create);
  }

  /** A current access token; refreshes in the background ahead of expiry. */
  async getAccessToken(): Promise<{ token: string; res: null }> {
    const t = await this.#cache.get();
    if (this.credentials.access_token !== t.token) this.credentials = { access_token: t.token, expiry_date: t.expiresAt, token_type: "Bearer" };
    return { token: t.token, res: null };
  }

  /** `Authorization` (and `x-goog-user-project`) headers, as google-auth-library 10 and 11 expect them. */
  async getRequestHeaders(_url?: string | URL): Promise<Headers> {
    const { token } = await this.getAccessToken();
    const headers = new Headers({ authorization: `Bearer ${token}` });
    if (this.quotaProjectId) headers.set("x-goog-user-project", this.quotaProjectId);
    return headers;
  }

  /** Sends `options` through google-auth-library's transporter with keyless's token; on 401 refreshes once and retries. */
  async request<T>(options: GaxiosOptions): GaxiosPromise<T> {
    const send = async () => {
      const headers = new Headers(options.headers as ConstructorParameters<typeof Headers>[0]);
      (await this.getRequestHeaders()).forEach((value, name) => headers.set(name, value));
      return this.transporter.request<T>({ ...options, headers });
    };
    try {
      return await send();
    } catch (error) {
      const status = (error as { response?: { status?: number } }).response?.status;
      if (status !== 401) throw error;
      this.#cache.invalidate();
      return send();
    }
  }

  /** Shows no token. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `${this.constructor.name} { projectId: ${JSON.stringify(this.projectId)}, universeDomain: ${JSON.stringify(this.universeDomain)} }`;
  }

  toJSON(): Record<string, unknown> {
    return { type: this.constructor.name, projectId: this.projectId, universeDomain: this.universeDomain };
  }
}

/** The IAM Credentials URL for `serviceAccount` (an email), or the URL as given. */
export function impersonationUrl(serviceAccount: string | undefined, explicitUrl: string | undefined, universeDomain: string): string | undefined {
  if (explicitUrl !== undefined) return explicitUrl;
  if (serviceAccount === undefined) return undefined;
  if (!/^[^@\s/:]+@[^@\s/:]+$/.test(serviceAccount)) throw new KeylessError("ERR_CONFIG", `serviceAccount ${JSON.stringify(serviceAccount.slice(0, 200))} is not a service account email.`, { step: "config" });
  return `https://iamcredentials.${universeDomain}/v1/projects/-/serviceAccounts/${encodeURIComponent(serviceAccount)}:generateAccessToken`;
}
