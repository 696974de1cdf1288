/**
 * @module testing/cognito
 * The emulated Amazon Cognito identity service (JSON 1.1): `GetOpenIdTokenForDeveloperIdentity`
 * (SigV4 verified against keys the emulated AWS issued), and the unsigned `GetId` /
 * `GetOpenIdToken`. Tokens are signed as `https://cognito-identity.amazonaws.com`.
 */
import { createHash } from "node:crypto";
import type { Clock } from "../core/clock.js";
import type { AwsKeyStore } from "./aws.js";
import { toSigV4Input } from "./aws.js";
import type { Issuer } from "./issuer.js";
import { json, type EmulatedRequest, type EmulatedResponse, type Route } from "./service.js";
import { verifySigV4 } from "./sigv4-verify.js";

export interface CognitoIdentityPool {
  identityPoolId: string;
  /** The developer provider name (`Logins` key) this pool accepts. */
  developerProviderName: string;
  /** Whether unauthenticated identities are allowed (GetId without logins). Default false. */
  allowUnauthenticated?: boolean;
}

export interface CognitoScenario {
  pools: CognitoIdentityPool[];
}

/** The identity id Cognito gives (pool, developer provider, user id): stable, like the real one. */
export function cognitoIdentityId(pool: CognitoIdentityPool, userId: string): string {
  const region = pool.identityPoolId.split(":")[0] ?? "us-east-1";
  const h = createHash("sha256").update(`${pool.identityPoolId}|${pool.developerProviderName}|${userId}`).digest("hex");
  return `${region}:${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function cognitoError(type: string, message: string, status = 400): EmulatedResponse {
  return json(status, { __type: type, message }, { "content-type": "application/x-amz-json-1.1" });
}

export function cognitoRoutes(scenario: CognitoScenario, cognito: Issuer, keys: AwsKeyStore, clock: Clock, issued: string[]): Route[] {
  const target = (req: EmulatedRequest) => String(req.headers["x-amz-target"] ?? "");
  const body = (req: EmulatedRequest): Record<string, unknown> => {
    try {
      return JSON.parse(req.body.toString("utf8")) as Record<string, unknown>;
    } catch {
      return {};
    }
  };
  const unauthenticated = new Map<string, string>();
  const mint = async (pool: CognitoIdentityPool, identityId: string, amr: string[], seconds: number) => {
    const token = await cognito.sign({ aud: pool.identityPoolId, sub: identityId, amr, "https://cognito-identity.amazonaws.com/identity-pool-arn": `arn:aws:cognito-identity:${pool.identityPoolId.split(":")[0]}:111122223333:identitypool/${pool.identityPoolId}` }, seconds);
    issued.push(token);
    return token;
  };
  return [
    {
      endpoint: "aws.cognito.GetOpenIdTokenForDeveloperIdentity",
      match: (r) => r.method === "POST" && target(r) === "AWSCognitoIdentityService.GetOpenIdTokenForDeveloperIdentity",
      handle: async (req) => {
        const auth = await verifySigV4(toSigV4Input(req), (id) => keys.get(id), clock.now());
        if (!auth.ok) return cognitoError(auth.failure === "expired-key" ? "ExpiredTokenException" : auth.failure === "unknown-key" || auth.failure === "bad-token" ? "UnrecognizedClientException" : "InvalidSignatureException", auth.message ?? "denied", auth.failure === "bad-signature" ? 403 : 400);
        if (auth.service !== "cognito-identity") return cognitoError("InvalidSignatureException", "Credential should be scoped to correct service: 'cognito-identity'.", 403);
        const input = body(req);
        const pool = scenario.pools.find((p) => p.identityPoolId === input["IdentityPoolId"]);
        if (pool === undefined) return cognitoError("ResourceNotFoundException", `IdentityPool '${String(input["IdentityPoolId"])}' not found.`);
        const logins = (input["Logins"] ?? {}) as Record<string, unknown>;
        const userId = logins[pool.developerProviderName];
        if (typeof userId !== "string" || userId === "") return cognitoError("NotAuthorizedException", `Logins must contain the developer provider name ${pool.developerProviderName} for this pool.`);
        const duration = input["TokenDuration"] === undefined ? 900 : Number(input["TokenDuration"]);
        if (!Number.isInteger(duration) || duration < 1 || duration > 86_400) return cognitoError("InvalidParameterException", "TokenDuration must be between 1 and 86400 seconds.");
        const identityId = cognitoIdentityId(pool, userId);
        const token = await mint(pool, identityId, ["authenticated", pool.developerProviderName, `${pool.developerProviderName}:${pool.identityPoolId}:${userId}`], duration);
        return json(200, { IdentityId: identityId, Token: token }, { "content-type": "application/x-amz-json-1.1" });
      },
    },
    {
      endpoint: "aws.cognito.GetId",
      match: (r) => r.method === "POST" && target(r) === "AWSCognitoIdentityService.GetId",
      handle: (req) => {
        const input = body(req);
        const pool = scenario.pools.find((p) => p.identityPoolId === input["IdentityPoolId"]);
        if (pool === undefined) return cognitoError("ResourceNotFoundException", "IdentityPool not found.");
        if (!pool.allowUnauthenticated) return cognitoError("NotAuthorizedException", "Unauthenticated access is not supported for this identity pool.");
        const id = `${pool.identityPoolId.split(":")[0]}:${createHash("sha256").update(String(unauthenticated.size)).digest("hex").slice(0, 8)}-0000-4000-8000-000000000000`;
        unauthenticated.set(id, pool.identityPoolId);
        return json(200, { IdentityId: id }, { "content-type": "application/x-amz-json-1.1" });
      },
    },
    {
      endpoint: "aws.cognito.GetOpenIdToken",
      match: (r) => r.method === "POST" && target(r) === "AWSCognitoIdentityService.GetOpenIdToken",
      handle: async (req) => {
        const input = body(req);
        const poolId = unauthenticated.get(String(input["IdentityId"]));
        const pool = scenario.pools.find((p) => p.identityPoolId === poolId);
        if (pool === undefined) return cognitoError("ResourceNotFoundException", "Identity not found.");
        return json(200, { IdentityId: input["IdentityId"], Token: await mint(pool, String(input["IdentityId"]), ["unauthenticated"], 600) }, { "content-type": "application/x-amz-json-1.1" });
      },
    },
    {
      endpoint: "aws.cognito.unknown",
      match: (r) => r.method === "POST",
      handle: (req) => cognitoError("UnknownOperationException", `Unknown operation ${target(req)}`),
    },
  ];
}
