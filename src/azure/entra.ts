/**
 * @module azure/entra
 * Microsoft Entra ID client credentials with a federated client assertion, and the mapping of
 * AADSTS codes to typed errors that say which federated credential field to fix.
 */
import { KeylessError } from "../core/errors.js";
import { describeUrl, formBody, parseJsonObject, request, retryAfterMs, type TransportOptions } from "../core/http.js";
import { decodeJwt, describeClaims, type JwtClaims } from "../core/jwt.js";

export interface EntraExchange {
  authorityHost: string;
  tenantId: string;
  clientId: string;
  scopes: readonly string[];
  assertion: string;
  claims?: string;
}

export interface EntraToken {
  token: string;
  expiresAt: number;
  /** Entra's own refresh hint, epoch ms, when it gives one. */
  refreshAt?: number;
}

const STEP = "azure-entra";

/** One call to `{authorityHost}/{tenant}/oauth2/v2.0/token`. */
export async function exchangeAssertion(params: EntraExchange, transport: TransportOptions, now: () => number): Promise<EntraToken> {
  const url = new URL(`${params.authorityHost.replace(/\/+$/, "")}/${encodeURIComponent(params.tenantId)}/oauth2/v2.0/token`);
  const started = now();
  const response = await request({
    ...transport,
    url,
    method: "POST",
    step: STEP,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: formBody({
      client_id: params.clientId,
      scope: params.scopes.join(" "),
      grant_type: "client_credentials",
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: params.assertion,
      claims: params.claims,
    }),
  }).catch((error: unknown) => {
    if (error instanceof KeylessError && (error.code === "ERR_HTTP_CONNECTION" || error.code === "ERR_HTTP_TIMEOUT")) {
      throw new KeylessError("ERR_ENTRA_UNAVAILABLE", `Entra at ${describeUrl(url)} is unreachable: ${error.message}`, { step: STEP, cause: error, retryable: true });
    }
    throw error;
  });
  if (response.status !== 200) throw entraError(response.status, response.body.toString("utf8"), params, retryAfterMs(response), url);
  const body = parseJsonObject(response, STEP, describeUrl(url));
  const token = body["access_token"];
  const expiresIn = Number(body["expires_in"]);
  if (typeof token !== "string" || token === "" || !Number.isFinite(expiresIn)) throw new KeylessError("ERR_RESPONSE_MALFORMED", "Entra answered without access_token and expires_in.", { step: STEP, retryable: true, maxAttempts: 2 });
  const refreshIn = Number(body["refresh_in"]);
  return { token, expiresAt: started + expiresIn * 1000, ...(Number.isFinite(refreshIn) && refreshIn > 0 ? { refreshAt: started + refreshIn * 1000 } : {}) };
}

function entraError(status: number, text: string, params: EntraExchange, retryAfter: number | undefined, url: URL): KeylessError {
  let body: { error?: unknown; error_description?: unknown; error_codes?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON
  }
  const codes = Array.isArray(body.error_codes) ? body.error_codes.map(Number) : [];
  const description = typeof body.error_description === "string" ? body.error_description.split(" Trace ID:")[0]?.slice(0, 600) ?? "" : "";
  const code = codes[0] ?? Number(/AADSTS(\d+)/.exec(description)?.[1] ?? NaN);
  const upstreamCode = Number.isFinite(code) ? `AADSTS${code}` : typeof body.error === "string" ? body.error : `HTTP ${status}`;
  let claims: JwtClaims | undefined;
  try {
    claims = decodeJwt(params.assertion);
  } catch {
    claims = undefined;
  }
  const assertion = claims ? describeClaims(claims) : {};
  const base = { step: STEP, status, upstreamCode, details: { tenantId: params.tenantId, clientId: params.clientId, assertion } };
  const fic = `a federated identity credential on application ${params.clientId} with issuer "${String(claims?.iss)}", subject "${String(claims?.sub)}" and audience "${String(Array.isArray(claims?.aud) ? claims?.aud[0] : claims?.aud)}" (exact, case-sensitive)`;
  if (status === 429 || status >= 500) return new KeylessError("ERR_ENTRA_UNAVAILABLE", `Entra at ${describeUrl(url)} answered HTTP ${status}.`, { ...base, retryable: true, ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }) });
  switch (code) {
    case 70021:
      return new KeylessError("ERR_ENTRA_REJECTED", `Entra found no federated identity credential matching the assertion (${upstreamCode}). A credential created in the last minutes may still be propagating.`, { ...base, retryable: true, maxAttempts: 4, hint: `Create ${fic}.` });
    case 700211:
      return new KeylessError("ERR_ENTRA_REJECTED", `No federated identity credential trusts the assertion's issuer ${String(claims?.iss)} (${upstreamCode}).`, { ...base, hint: `The issuer must be exactly "${String(claims?.iss)}": create ${fic}.` });
    case 700213:
      return new KeylessError("ERR_ENTRA_REJECTED", `No federated identity credential for issuer ${String(claims?.iss)} has the assertion's subject ${String(claims?.sub)} (${upstreamCode}).`, { ...base, hint: `The subject must be exactly "${String(claims?.sub)}": create ${fic}.` });
    case 700212:
      return new KeylessError("ERR_ENTRA_REJECTED", `No federated identity credential accepts the assertion's audience (${upstreamCode}).`, { ...base, hint: `The credential's audience must include "${String(Array.isArray(claims?.aud) ? claims?.aud[0] : claims?.aud)}": create ${fic}.` });
    case 70025:
      return new KeylessError("ERR_ENTRA_REJECTED", `Application ${params.clientId} has no federated identity credentials at all (${upstreamCode}).`, { ...base, hint: `Create ${fic}.` });
    case 700024:
      return new KeylessError("ERR_ENTRA_REJECTED", `Entra says the client assertion is outside its valid time range (${upstreamCode}).`, { ...base, retryable: true, maxAttempts: 2, hint: "keyless fetches a fresh assertion for each exchange; if this repeats, check this machine's clock." });
    case 700016:
      return new KeylessError("ERR_ENTRA_REJECTED", `Application ${params.clientId} was not found in tenant ${params.tenantId} (${upstreamCode}).`, { ...base, hint: "Check clientId (the application's client id, AZURE_CLIENT_ID) and tenantId." });
    case 90002:
      return new KeylessError("ERR_ENTRA_REJECTED", `Tenant ${params.tenantId} was not found (${upstreamCode}).`, { ...base, hint: "Check tenantId (AZURE_TENANT_ID) and, for sovereign clouds, authorityHost." });
    case 50027:
      return new KeylessError("ERR_ENTRA_REJECTED", `Entra says the assertion is not a valid JWT (${upstreamCode}).`, { ...base, hint: "Check the assertion source: it must return a signed JWT." });
  }
  return new KeylessError("ERR_ENTRA_REJECTED", `Entra rejected the request (${upstreamCode}): ${description}`, base);
}
