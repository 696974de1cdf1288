/**
 * @module testing/gcp
 * The emulated Google identity plane: the metadata server (ID tokens with `format=full` claims,
 * access tokens, project id, and the `Metadata-Flavor` rules).
 */
import { randomBytes } from "node:crypto";
import type { Issuer } from "./issuer.js";
import { json, type EmulatedRequest, type EmulatedResponse, type Route } from "./service.js";

export interface GcpScenario {
  projectId: string;
  projectNumber: string;
  /** The workload's service account (what the metadata server speaks for). */
  serviceAccountEmail: string;
  /** Its numeric unique id: the `sub` and `azp` of its ID tokens. */
  serviceAccountUniqueId: string;
}

const FLAVOR = { "metadata-flavor": "Google" };

/** Routes of the GCE/GKE/Cloud Run metadata server. */
export function gcpMetadataRoutes(scenario: GcpScenario, google: Issuer, issued: string[]): Route[] {
  const guard = (req: EmulatedRequest): EmulatedResponse | undefined => {
    if (req.headers["metadata-flavor"] !== "Google") return { status: 403, headers: { ...FLAVOR, "content-type": "text/html" }, body: "Missing required header: Metadata-Flavor" };
    if (req.headers["x-forwarded-for"] !== undefined) return { status: 403, headers: FLAVOR, body: "" };
    return undefined;
  };
  const base = "/computeMetadata/v1";
  const sa = (path: string) => (r: EmulatedRequest) => {
    const m = new RegExp(`^${base}/instance/service-accounts/([^/]+)/${path}$`).exec(r.url.pathname);
    return m !== null && (m[1] === "default" || m[1] === scenario.serviceAccountEmail);
  };
  const text = (body: string): EmulatedResponse => ({ status: 200, headers: { ...FLAVOR, "content-type": "application/text" }, body });
  return [
    {
      endpoint: "gcp.metadata.identity",
      match: sa("identity"),
      handle: async (req) => {
        const denied = guard(req);
        if (denied) return denied;
        const audience = req.url.searchParams.get("audience");
        if (!audience) return { status: 400, headers: FLAVOR, body: "non-empty audience parameter required" };
        const full = req.url.searchParams.get("format") === "full";
        const token = await google.sign({
          aud: audience,
          azp: scenario.serviceAccountUniqueId,
          sub: scenario.serviceAccountUniqueId,
          ...(full ? { email: scenario.serviceAccountEmail, email_verified: true, google: { compute_engine: { project_id: scenario.projectId, zone: "us-central1-a" } } } : {}),
        });
        issued.push(token);
        return text(token);
      },
    },
    {
      endpoint: "gcp.metadata.token",
      match: sa("token"),
      handle: (req) => {
        const denied = guard(req);
        if (denied) return denied;
        const token = `ya29.metadata-${randomBytes(24).toString("base64url")}`;
        issued.push(token);
        return json(200, { access_token: token, expires_in: 3599, token_type: "Bearer" }, FLAVOR);
      },
    },
    { endpoint: "gcp.metadata.email", match: sa("email"), handle: (req) => guard(req) ?? text(scenario.serviceAccountEmail) },
    { endpoint: "gcp.metadata.project-id", match: (r) => r.url.pathname === `${base}/project/project-id`, handle: (req) => guard(req) ?? text(scenario.projectId) },
    { endpoint: "gcp.metadata.numeric-project-id", match: (r) => r.url.pathname === `${base}/project/numeric-project-id`, handle: (req) => guard(req) ?? text(scenario.projectNumber) },
    { endpoint: "gcp.metadata.ping", match: (r) => r.url.pathname === "/" || r.url.pathname === `${base}/` || r.url.pathname === `${base}/instance`, handle: (req) => guard(req) ?? text("") },
    { endpoint: "gcp.metadata.not-found", match: (r) => r.url.pathname.startsWith(`${base}/`) && !r.url.pathname.endsWith("/"), handle: (req) => guard(req) ?? { status: 404, headers: { ...FLAVOR, "content-type": "text/html" }, body: "Not Found" } },
  ];
}
