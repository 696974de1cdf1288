/**
 * @module testing/entra
 * The emulated Microsoft Entra ID v2 token endpoint (over TLS): client credentials with a
 * federated client assertion, checked against each application's federated identity credentials
 * with Entra's AADSTS error codes; OIDC discovery and JWKS; access tokens azurite accepts.
 */
import { randomUUID } from "node:crypto";
import type { Clock } from "../core/clock.js";
import type { Issuer, IssuerRegistry } from "./issuer.js";
import { TokenVerificationError } from "./issuer.js";
import { json, type EmulatedRequest, type EmulatedResponse, type Route } from "./service.js";

/** A federated identity credential: who may sign in as the application. Matched exactly, case-sensitively. */
export interface FederatedIdentityCredential {
  issuer: string;
  subject: string;
  audiences: string[];
  /** Created this recently (ms) still answers AADSTS70021, as Entra does while it propagates. Default 0. */
  propagationDelayMs?: number;
  createdAt?: number;
}

export interface EntraApplication {
  /** The application (client) id. */
  clientId: string;
  /** Its service principal's object id (the `oid` of its tokens). */
  objectId: string;
  federatedCredentials: FederatedIdentityCredential[];
}

export interface EntraScenario {
  applications: EntraApplication[];
  /** Access token lifetime, seconds. Default 3599. */
  tokenLifetimeSeconds?: number;
}

/** Every access token Entra issued, for leak checks and evidence. */
export interface EntraIssued {
  clientId: string;
  resource: string;
  assertionIssuer: string;
  assertionSubject: string;
}

function aadsts(status: number, error: string, code: number, description: string): EmulatedResponse {
  const trace = randomUUID();
  const correlation = randomUUID();
  return json(status, {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${trace} Correlation ID: ${correlation} Timestamp: ${new Date().toISOString()}`,
    error_codes: [code],
    timestamp: new Date().toISOString(),
    trace_id: trace,
    correlation_id: correlation,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}

/** Routes of `login.microsoftonline.com` for the tenant `tenantId`. */
export function entraRoutes(tenantId: string, scenario: EntraScenario, issuers: IssuerRegistry, azure: Issuer, clock: Clock, baseUrl: () => string, issued: string[], grants: EntraIssued[]): Route[] {
  const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/;
  return [
    {
      endpoint: "azure.entra.discovery",
      match: (r) => r.method === "GET" && /^\/[^/]+\/v2\.0\/\.well-known\/openid-configuration$/.test(r.url.pathname),
      handle: (req) => {
        const tenant = req.url.pathname.split("/")[1];
        if (tenant !== tenantId) return aadsts(400, "invalid_tenant", 90002, `Tenant '${tenant}' not found.`);
        return json(200, {
          issuer: `${baseUrl()}/${tenantId}/v2.0`,
          token_endpoint: `${baseUrl()}/${tenantId}/oauth2/v2.0/token`,
          authorization_endpoint: `${baseUrl()}/${tenantId}/oauth2/v2.0/authorize`,
          jwks_uri: `${baseUrl()}/${tenantId}/discovery/v2.0/keys`,
          response_types_supported: ["code", "id_token", "token"],
          subject_types_supported: ["pairwise"],
          id_token_signing_alg_values_supported: ["RS256"],
          tenant_region_scope: "NA",
        });
      },
    },
    {
      endpoint: "azure.entra.keys",
      match: (r) => r.method === "GET" && /^\/[^/]+\/discovery\/v2\.0\/keys$/.test(r.url.pathname),
      handle: () => json(200, azure.jwks()),
    },
    {
      endpoint: "azure.entra.token",
      match: (r) => r.method === "POST" && tokenPath.test(r.url.pathname),
      handle: async (req: EmulatedRequest): Promise<EmulatedResponse> => {
        const tenant = tokenPath.exec(req.url.pathname)?.[1];
        if (tenant !== tenantId) return aadsts(400, "invalid_tenant", 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
        const form = new URLSearchParams(req.body.toString("utf8"));
        if (form.get("grant_type") !== "client_credentials") return aadsts(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
        const clientId = form.get("client_id") ?? "";
        const app = scenario.applications.find((a) => a.clientId === clientId);
        if (app === undefined) return aadsts(400, "unauthorized_client", 700016, `Application with identifier '${clientId}' was not found in the directory '${tenantId}'.`);
        if (form.get("client_assertion_type") !== "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") return aadsts(400, "invalid_request", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
        const scope = form.get("scope") ?? "";
        if (!/^\S+\/\.default$/.test(scope)) return aadsts(400, "invalid_scope", 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
        const assertion = form.get("client_assertion") ?? "";
        let header: { iss?: unknown; sub?: unknown; aud?: unknown };
        try {
          header = JSON.parse(Buffer.from(assertion.split(".")[1] ?? "", "base64url").toString("utf8")) as typeof header;
          if (assertion.split(".").length !== 3) throw new Error("not a JWT");
        } catch {
          return aadsts(400, "invalid_request", 50027, "JWT token is invalid or malformed.");
        }
        if (app.federatedCredentials.length === 0) return aadsts(400, "invalid_client", 70025, `The client '${clientId}'(keyless) has no configured federated identity credentials.`);
        let claims: Record<string, unknown>;
        try {
          claims = await issuers.verify(assertion);
        } catch (error) {
          const reason = error instanceof TokenVerificationError ? error.reason : "malformed";
          if (reason === "expired" || reason === "not-yet-valid") return aadsts(400, "invalid_client", 700024, "Client assertion is not within its valid time range.");
          if (reason === "unknown-issuer") return aadsts(400, "invalid_client", 700211, `No matching federated identity record found for presented assertion issuer '${String(header.iss)}'. Please note that the matching is done using a case-sensitive comparison. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`);
          if (reason === "bad-signature") return aadsts(400, "invalid_client", 5002738, "Invalid JWT token. The token signature is invalid.");
          return aadsts(400, "invalid_request", 50027, "JWT token is invalid or malformed.");
        }
        const iss = String(claims["iss"]);
        const sub = String(claims["sub"]);
        const auds = Array.isArray(claims["aud"]) ? (claims["aud"] as unknown[]).map(String) : [String(claims["aud"])];
        const now = clock.now();
        const matches = app.federatedCredentials.filter((f) => f.issuer === iss && f.subject === sub && f.audiences.some((a) => auds.includes(a)));
        const ready = matches.filter((f) => now - (f.createdAt ?? 0) >= (f.propagationDelayMs ?? 0));
        if (ready.length === 0) {
          const byIssuer = app.federatedCredentials.filter((f) => f.issuer === iss);
          if (matches.length > 0) return aadsts(400, "invalid_client", 70021, "No matching federated identity record found for presented assertion. Assertion Issuer: '" + iss + "'. Assertion Subject: '" + sub + "'. Assertion Audience: '" + auds.join(",") + "'.");
          if (byIssuer.length === 0) return aadsts(400, "invalid_client", 700211, `No matching federated identity record found for presented assertion issuer '${iss}'. Please note that the matching is done using a case-sensitive comparison. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`);
          const bySubject = byIssuer.filter((f) => f.subject === sub);
          if (bySubject.length === 0) return aadsts(400, "invalid_client", 700213, `No matching federated identity record found for presented assertion subject '${sub}'. Please note that the matching is done using a case-sensitive comparison. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`);
          return aadsts(400, "invalid_client", 700212, `No matching federated identity record found for presented assertion audience '${auds.join(",")}'. Please note that the matching is done using a case-sensitive comparison. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.`);
        }
        const resource = scope.replace(/\/\.default$/, "");
        const lifetime = scenario.tokenLifetimeSeconds ?? 3599;
        const token = await azure.sign({ aud: resource, appid: clientId, appidacr: "2", idp: `https://sts.windows.net/${tenantId}/`, oid: app.objectId, sub: app.objectId, tid: tenantId, ver: "1.0", roles: ["keyless.access"], ...(form.get("claims") ? { xms_cc: ["cp1"] } : {}) }, lifetime);
        issued.push(token);
        grants.push({ clientId, resource, assertionIssuer: iss, assertionSubject: sub });
        return json(200, { token_type: "Bearer", expires_in: lifetime, ext_expires_in: lifetime, access_token: token });
      },
    },
  ];
}
