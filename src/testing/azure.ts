/**
 * @module testing/azure
 * The emulated Azure managed identity endpoints: VM/scale-set IMDS and the App Service /
 * Functions / Container Apps identity endpoint, issuing v1 tokens as `https://sts.windows.net/{tenant}/`.
 */
import type { Issuer } from "./issuer.js";
import type { Clock } from "../core/clock.js";
import { json, type EmulatedRequest, type EmulatedResponse, type Route } from "./service.js";

export interface AzureManagedIdentity {
  clientId: string;
  objectId: string;
  /** ARM resource id, for `msi_res_id` / `mi_res_id`. */
  resourceId: string;
}

export interface AzureScenario {
  tenantId: string;
  /** The identity IMDS and the App Service endpoint hand out by default. */
  managedIdentity: AzureManagedIdentity;
  /** Further user-assigned identities, selectable by client id, object id or resource id. */
  userAssignedIdentities: AzureManagedIdentity[];
  /** Token lifetime, seconds. Default 86400, as Azure issues them. */
  tokenLifetimeSeconds?: number;
}

export function azureIssuerUrl(tenantId: string): string {
  return `https://sts.windows.net/${tenantId}/`;
}

/** IMDS and App Service managed identity routes. */
export function azureManagedIdentityRoutes(scenario: AzureScenario, issuer: Issuer, clock: Clock, identityHeader: string, issued: string[]): Route[] {
  const pick = (params: URLSearchParams, clientKey: string, objectKey: string, resourceKey: string): AzureManagedIdentity | undefined => {
    const all = [scenario.managedIdentity, ...scenario.userAssignedIdentities];
    const clientId = params.get(clientKey);
    const objectId = params.get(objectKey);
    const resourceId = params.get(resourceKey);
    if (clientId) return all.find((i) => i.clientId === clientId);
    if (objectId) return all.find((i) => i.objectId === objectId);
    if (resourceId) return all.find((i) => i.resourceId.toLowerCase() === resourceId.toLowerCase());
    return scenario.managedIdentity;
  };
  const mint = async (identity: AzureManagedIdentity, resource: string) => {
    const lifetime = scenario.tokenLifetimeSeconds ?? 86_400;
    const token = await issuer.sign({ aud: resource, sub: identity.objectId, oid: identity.objectId, appid: identity.clientId, tid: scenario.tenantId, idtyp: "app", ver: "1.0", xms_mirid: identity.resourceId }, lifetime);
    issued.push(token);
    const now = Math.floor(clock.now() / 1000);
    return { token, now, lifetime };
  };
  return [
    {
      endpoint: "azure.imds.token",
      match: (r: EmulatedRequest) => r.url.pathname === "/metadata/identity/oauth2/token",
      handle: async (req: EmulatedRequest): Promise<EmulatedResponse> => {
        if (String(req.headers["metadata"]).toLowerCase() !== "true") return json(400, { error: "invalid_request", error_description: "Required metadata header not specified" });
        if (req.url.searchParams.get("api-version") === null) return json(400, { error: "invalid_request", error_description: "Required query variable 'api-version' is missing" });
        const resource = req.url.searchParams.get("resource");
        if (!resource) return json(400, { error: "invalid_request", error_description: "Required query variable 'resource' is missing" });
        const identity = pick(req.url.searchParams, "client_id", "object_id", "msi_res_id");
        if (!identity) return json(400, { error: "invalid_request", error_description: "Identity not found" });
        const { token, now, lifetime } = await mint(identity, resource);
        return json(200, { access_token: token, client_id: identity.clientId, expires_in: String(lifetime), expires_on: String(now + lifetime), ext_expires_in: String(lifetime), not_before: String(now), resource, token_type: "Bearer" });
      },
    },
    {
      endpoint: "azure.appservice.token",
      match: (r: EmulatedRequest) => r.url.pathname === "/msi/token",
      handle: async (req: EmulatedRequest): Promise<EmulatedResponse> => {
        if (req.headers["x-identity-header"] !== identityHeader) return json(401, { statusCode: 401, message: "Unauthorized: X-IDENTITY-HEADER is missing or wrong" });
        if (req.url.searchParams.get("api-version") !== "2019-08-01") return json(400, { statusCode: 400, message: "api-version must be 2019-08-01" });
        const resource = req.url.searchParams.get("resource");
        if (!resource) return json(400, { statusCode: 400, message: "resource is required" });
        const identity = pick(req.url.searchParams, "client_id", "principal_id", "mi_res_id");
        if (!identity) return json(400, { statusCode: 400, message: "Identity not found" });
        const { token, now, lifetime } = await mint(identity, resource);
        return json(200, { access_token: token, expires_on: String(now + lifetime), resource, token_type: "Bearer", client_id: identity.clientId });
      },
    },
  ];
}
