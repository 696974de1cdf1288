/**
 * @module sources/azure-managed-identity
 * Azure managed identity tokens: VM and scale-set IMDS, or the App Service / Functions /
 * Container Apps identity endpoint when `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set.
 */
import { KeylessError } from "../core/errors.js";
import { decodeJwt } from "../core/jwt.js";
import { parseJsonObject, request, retryAfterMs, type HttpResponse, type TransportOptions } from "../core/http.js";
import type { TokenRequest, TokenSource } from "./types.js";
import { transportOf } from "../core/options.js";

export interface AzureManagedIdentityOptions extends TransportOptions {
  /** The resource (App ID URI) to get a token for, e.g. `api://my-aws-federation`. Its `aud` claim. */
  resource: string;
  /** A user-assigned identity by client id. At most one of clientId, objectId, resourceId. */
  clientId?: string;
  /** A user-assigned identity by object (principal) id. */
  objectId?: string;
  /** A user-assigned identity by ARM resource id. */
  resourceId?: string;
  /** IMDS base URL. Default `AZURE_POD_IDENTITY_AUTHORITY_HOST`, else `http://169.254.169.254`. */
  imdsBaseUrl?: string;
}

/** Which managed identity endpoint this environment offers. */
export type AzureManagedIdentityKind = "imds" | "app-service";

/** Detects the endpoint the way `@azure/identity` does, refusing Azure Arc and Service Fabric (other protocols). */
export function detectAzureManagedIdentity(env: NodeJS.ProcessEnv = process.env): AzureManagedIdentityKind {
  if (env["IDENTITY_ENDPOINT"]) {
    if (env["IMDS_ENDPOINT"]) {
      throw new KeylessError("ERR_UNSUPPORTED", "This is an Azure Arc machine (IDENTITY_ENDPOINT and IMDS_ENDPOINT are set); its challenge-file protocol is not supported yet.", { step: "azure-managed-identity", hint: "Use a token file source instead, or run on an Azure VM, AKS or App Service." });
    }
    if (env["IDENTITY_SERVER_THUMBPRINT"]) {
      throw new KeylessError("ERR_UNSUPPORTED", "This is a Service Fabric node (IDENTITY_SERVER_THUMBPRINT is set); its managed identity protocol is not supported yet.", { step: "azure-managed-identity" });
    }
    if (env["IDENTITY_HEADER"]) return "app-service";
  }
  return "imds";
}

/** A {@link TokenSource} of Azure managed identity tokens for `resource`. */
export function azureManagedIdentityToken(options: AzureManagedIdentityOptions): TokenSource {
  if (typeof options.resource !== "string" || options.resource === "") {
    throw new KeylessError("ERR_CONFIG", "An Azure managed identity token needs a resource (the App ID URI the other cloud trusts).", { step: "azure-managed-identity" });
  }
  const selectors = [options.clientId, options.objectId, options.resourceId].filter((v) => v !== undefined);
  if (selectors.length > 1) throw new KeylessError("ERR_CONFIG", "Pick the managed identity by at most one of clientId, objectId and resourceId.", { step: "azure-managed-identity" });
  return async (req?: TokenRequest) => {
    const kind = detectAzureManagedIdentity();
    return kind === "app-service" ? appService(options, req) : imds(options, req);
  };
}

async function imds(options: AzureManagedIdentityOptions, req?: TokenRequest): Promise<string> {
  const step = "azure-imds";
  const base = options.imdsBaseUrl ?? process.env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] ?? "http://169.254.169.254";
  const url = new URL("/metadata/identity/oauth2/token", base);
  url.searchParams.set("api-version", "2018-02-01");
  url.searchParams.set("resource", options.resource);
  if (options.clientId) url.searchParams.set("client_id", options.clientId);
  if (options.objectId) url.searchParams.set("object_id", options.objectId);
  if (options.resourceId) url.searchParams.set("msi_res_id", options.resourceId);
  const response = await request({ ...options, url, headers: { metadata: "true" }, step, signal: req?.signal, connectTimeoutMs: options.connectTimeoutMs ?? 1_000, timeoutMs: options.timeoutMs ?? 5_000 }).catch(
    unreachable(step, "Run this on an Azure VM or scale set with a managed identity (on AKS use workload identity and a token file).")
  );
  if (response.status !== 200) {
    const status = response.status;
    // IMDS: 404 and 410 while it starts or updates (410: keep trying for at least 70 s), 429 and 5xx are transient.
    const retryable = status === 404 || status === 410 || status === 429 || status >= 500;
    throw new KeylessError("ERR_TOKEN_SOURCE", `Azure IMDS refused the managed identity token request (HTTP ${status}${describeAzureError(response)}).`, {
      step,
      status,
      retryable,
      ...(status === 410 ? { retryWindowMs: 70_000 } : {}),
      ...(retryable ? { retryAfterMs: retryAfterMs(response) } : {}),
      hint: status === 400 ? "Check that a managed identity is assigned to this VM and that clientId/objectId/resourceId name it." : undefined,
    });
  }
  return tokenFrom(response, step);
}

async function appService(options: AzureManagedIdentityOptions, req?: TokenRequest): Promise<string> {
  const step = "azure-app-service-identity";
  const url = new URL(process.env["IDENTITY_ENDPOINT"] ?? "");
  url.searchParams.set("api-version", "2019-08-01");
  url.searchParams.set("resource", options.resource);
  if (options.clientId) url.searchParams.set("client_id", options.clientId);
  if (options.objectId) url.searchParams.set("principal_id", options.objectId);
  if (options.resourceId) url.searchParams.set("mi_res_id", options.resourceId);
  const response = await request({ ...options, url, headers: { "x-identity-header": process.env["IDENTITY_HEADER"] ?? "" }, step, signal: req?.signal }).catch(
    unreachable(step, "IDENTITY_ENDPOINT is set but does not answer: check the app's identity settings."),
  );
  if (response.status !== 200) {
    const status = response.status;
    const retryable = status === 429 || status >= 500;
    throw new KeylessError("ERR_TOKEN_SOURCE", `The App Service identity endpoint refused the token request (HTTP ${status}${describeAzureError(response)}).`, {
      step,
      status,
      retryable,
      ...(retryable ? { retryAfterMs: retryAfterMs(response) } : {}),
      hint: status === 400 || status === 404 ? "Enable a managed identity on the app, and check clientId/objectId/resourceId." : undefined,
    });
  }
  return tokenFrom(response, step);
}

function unreachable(step: string, hint: string) {
  return (error: unknown): never => {
    if (error instanceof KeylessError && (error.code === "ERR_HTTP_CONNECTION" || error.code === "ERR_HTTP_TIMEOUT")) {
      throw new KeylessError(error.code, `The Azure managed identity endpoint did not answer: ${error.message}`, { step, cause: error, retryable: true, hint });
    }
    throw error;
  };
}

function describeAzureError(response: HttpResponse): string {
  try {
    const body = JSON.parse(response.body.toString("utf8")) as { error?: unknown; error_description?: unknown; message?: unknown };
    const parts = [body.error, body.error_description ?? body.message].filter((p): p is string => typeof p === "string");
    return parts.length > 0 ? `: ${parts.join(": ").slice(0, 300)}` : "";
  } catch {
    return "";
  }
}

function tokenFrom(response: HttpResponse, step: string): string {
  const body = parseJsonObject(response, step, "the managed identity endpoint");
  const token = body["access_token"];
  if (typeof token !== "string" || token === "") {
    throw new KeylessError("ERR_RESPONSE_MALFORMED", "The managed identity answer has no access_token.", { step, retryable: true, maxAttempts: 2 });
  }
  decodeJwt(token, step);
  return token;
}

/** How a target's options pick and reach a managed identity (the same four options everywhere). */
export interface ManagedIdentityChoice {
  /** A user-assigned managed identity's client id. Default: the system-assigned identity (or the only one). */
  managedIdentityClientId?: string;
  /** A user-assigned managed identity's object (principal) id. */
  managedIdentityObjectId?: string;
  /** A user-assigned managed identity's ARM resource id. */
  managedIdentityResourceId?: string;
  /** IMDS base URL. Default `AZURE_POD_IDENTITY_AUTHORITY_HOST`, else `http://169.254.169.254`. */
  imdsBaseUrl?: string;
}

/** The managed identity token source for `resource`, and the non-secret key that identifies it for shared caches. */
export function managedIdentitySource(options: ManagedIdentityChoice & TransportOptions, resource: string): { source: TokenSource; key: Record<string, unknown> } {
  const identity = {
    ...(options.managedIdentityClientId ? { clientId: options.managedIdentityClientId } : {}),
    ...(options.managedIdentityObjectId ? { objectId: options.managedIdentityObjectId } : {}),
    ...(options.managedIdentityResourceId ? { resourceId: options.managedIdentityResourceId } : {}),
    ...(options.imdsBaseUrl ? { imdsBaseUrl: options.imdsBaseUrl } : {}),
  };
  const source = azureManagedIdentityToken({ ...transportOf(options), resource, ...identity });
  return { source, key: { source: "azure-managed-identity", resource, ...identity, endpoint: process.env["IDENTITY_ENDPOINT"] ?? options.imdsBaseUrl ?? process.env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] } };
}
