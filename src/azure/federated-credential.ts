/**
 * @module azure/federated-credential
 * A `TokenCredential` for every Azure SDK client: Entra client credentials with a federated
 * assertion from any source, one cached token per scope set behind keyless's refresh core.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { systemClock } from "../core/clock.js";
import { KeylessError } from "../core/errors.js";
import { assertEndpointAllowed } from "../core/http.js";
import { assertFresh } from "../core/jwt.js";
import { refreshOptionsOf, transportOf, type CommonCredentialOptions } from "../core/options.js";
import { cacheKey, RefreshingCache, sharedCache } from "../core/refresh.js";
import { tokenFile } from "../sources/token-file.js";
import type { TokenSource } from "../sources/types.js";
import { exchangeAssertion } from "./entra.js";

export interface EntraOptions extends CommonCredentialOptions {
  /** The Entra tenant (directory) id. Default `AZURE_TENANT_ID`. */
  tenantId?: string;
  /** The application (client) id whose federated identity credentials trust the assertion. Default `AZURE_CLIENT_ID`. */
  clientId?: string;
  /** Entra's host, for sovereign clouds. Default `AZURE_AUTHORITY_HOST`, else `https://login.microsoftonline.com`. */
  authorityHost?: string;
  /** Tenants `getToken` may be asked for besides `tenantId` (`"*"` for any). Default none. */
  additionallyAllowedTenants?: readonly string[];
}

export interface FederatedCredentialOptions extends EntraOptions {
  /** The client assertion: a function returning a fresh JWT, or the path of a token file re-read before each exchange (AKS, Kubernetes). */
  assertion: TokenSource | string;
}

const TENANT = /^[0-9A-Za-z.-]{1,100}$/;
const CLIENT = /^[0-9a-fA-F-]{36}$/;

/** `TokenCredential` for `new BlobServiceClient(url, credential)` and every Azure SDK client. */
export class FederatedCredential implements TokenCredential {
  readonly tenantId: string;
  readonly clientId: string;
  readonly authorityHost: string;
  readonly #options: FederatedCredentialOptions;
  readonly #source: TokenSource;
  readonly #sourceKey: Record<string, unknown>;
  readonly #allowed: ReadonlySet<string>;
  readonly #caches = new Map<string, RefreshingCache<AccessToken>>();

  constructor(options: FederatedCredentialOptions, sourceKey?: Record<string, unknown>) {
    const tenantId = options.tenantId ?? process.env["AZURE_TENANT_ID"];
    const clientId = options.clientId ?? process.env["AZURE_CLIENT_ID"];
    if (tenantId === undefined || !TENANT.test(tenantId)) throw new KeylessError("ERR_CONFIG", tenantId === undefined ? "No tenant: pass tenantId or set AZURE_TENANT_ID." : `tenantId ${JSON.stringify(tenantId.slice(0, 100))} is not a tenant id or domain.`, { step: "config" });
    if (clientId === undefined || !CLIENT.test(clientId)) throw new KeylessError("ERR_CONFIG", clientId === undefined ? "No application: pass clientId or set AZURE_CLIENT_ID." : `clientId ${JSON.stringify(clientId.slice(0, 100))} is not an application (client) id.`, { step: "config" });
    const authorityHost = (options.authorityHost ?? process.env["AZURE_AUTHORITY_HOST"] ?? "https://login.microsoftonline.com").replace(/\/+$/, "");
    assertEndpointAllowed(authorityHost, "config");
    const assertion = options.assertion;
    if (typeof assertion !== "function" && typeof assertion !== "string") throw new KeylessError("ERR_CONFIG", "FederatedCredential needs `assertion`: a function returning a JWT, or a token file path.", { step: "config" });
    this.tenantId = tenantId;
    this.clientId = clientId;
    this.authorityHost = authorityHost;
    this.#options = options;
    this.#source = typeof assertion === "string" ? tokenFile(assertion) : assertion;
    this.#sourceKey = sourceKey ?? (typeof assertion === "string" ? { file: assertion } : { fn: assertion });
    this.#allowed = new Set(options.additionallyAllowedTenants ?? []);
  }

  /** A token for `scopes`: from the cache at once while fresh, else after one shared exchange. */
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    const key = typeof scopes === "string" ? scopes : scopes.join(" ");
    let tenant = this.tenantId;
    if (options?.tenantId !== undefined && options.tenantId !== this.tenantId) {
      if (!this.#allowed.has("*") && !this.#allowed.has(options.tenantId)) {
        return Promise.reject(
          new KeylessError("ERR_TENANT_NOT_ALLOWED", `A token for tenant ${options.tenantId} was asked for, but this credential is for ${this.tenantId}.`, {
            step: "azure-entra",
            hint: `Add "${options.tenantId}" to additionallyAllowedTenants if the application may act in that tenant.`,
          }),
        );
      }
      tenant = options.tenantId;
    }
    if (options?.claims) return this.#exchange(tenant, key, options.claims).then((t) => t.value);
    let cache = this.#caches.get(tenant === this.tenantId ? key : `${tenant}|${key}`);
    if (cache === undefined) cache = this.#cacheFor(tenant, key);
    return options?.abortSignal ? cache.get({ signal: options.abortSignal }) : cache.get();
  }

  #cacheFor(tenant: string, scopeKey: string): RefreshingCache<AccessToken> {
    const create = () =>
      new RefreshingCache<AccessToken>(() => this.#exchange(tenant, scopeKey, undefined), {
        name: `azure:${this.clientId}@${tenant} ${scopeKey}`,
        ...refreshOptionsOf(this.#options),
        onCommit: (token, { refreshAt }) => {
          token.refreshAfterTimestamp = refreshAt;
        },
      });
    const o = this.#options;
    const key = cacheKey("azure", { source: this.#sourceKey, tenant, clientId: this.clientId, authorityHost: this.authorityHost, scopes: scopeKey, ...transportOf(o), clock: o.clock, onEvent: o.onEvent, hardMarginMs: o.hardMarginMs, retry: o.retry, cooldownMs: o.cooldownMs });
    const cache = o.shareCache === false ? create() : sharedCache(key, create);
    this.#caches.set(tenant === this.tenantId ? scopeKey : `${tenant}|${scopeKey}`, cache);
    return cache;
  }

  async #exchange(tenant: string, scopeKey: string, claims: string | undefined): Promise<{ value: AccessToken; expiresAt: number }> {
    const clock = this.#options.clock ?? systemClock;
    // A fresh assertion for every exchange, never one past (or about to pass) its exp.
    const assertion = await this.#source();
    assertFresh(assertion, clock.now(), "azure-assertion");
    const t = await exchangeAssertion({ authorityHost: this.authorityHost, tenantId: tenant, clientId: this.clientId, scopes: scopeKey.split(" "), assertion, ...(claims ? { claims } : {}) }, transportOf(this.#options), () => clock.now());
    return { value: { token: t.token, expiresOnTimestamp: t.expiresAt, tokenType: "Bearer", ...(t.refreshAt ? { refreshAfterTimestamp: t.refreshAt } : {}) }, expiresAt: t.expiresAt };
  }

  /** Shows no token. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `FederatedCredential { tenantId: '${this.tenantId}', clientId: '${this.clientId}', authorityHost: '${this.authorityHost}' }`;
  }
}
