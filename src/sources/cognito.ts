/**
 * @module sources/cognito
 * An OpenID token for an AWS workload from Amazon Cognito `GetOpenIdTokenForDeveloperIdentity`,
 * signed with the workload's own AWS credentials: only a principal allowed to call it on the pool
 * can mint the token, so it proves the workload's AWS identity (unlike unsigned GetId + GetOpenIdToken).
 */
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { KeylessError } from "../core/errors.js";
import { describeUrl, parseJsonObject, request, retryAfterMs, type TransportOptions } from "../core/http.js";
import { decodeJwt } from "../core/jwt.js";
import { awsCredentialSource } from "./aws-credentials.js";
import { cognitoEndpoint, regionalEndpoint } from "./aws-endpoints.js";
import type { TokenSource } from "./types.js";
import { systemClock, type Clock } from "../core/clock.js";

export interface CognitoDeveloperTokenOptions extends TransportOptions {
  /** e.g. `us-east-1:7c1f0a3e-…`. Its region is the default region. */
  identityPoolId: string;
  /** The pool's developer provider name (the `Logins` key), e.g. `login.mycompany.workloads`. */
  developerProviderName: string;
  /** The workload's stable user id within the provider; with the pool and provider it fixes the identity id (the token's `sub`). */
  developerUserId: string;
  /** Region of the pool. Default: from the pool id. */
  region?: string;
  /** Token lifetime, seconds (Cognito's default 900, at most 86400). */
  tokenDurationSeconds?: number;
  /** The workload's AWS credentials. Default: the AWS SDK's chain. */
  awsCredentials?: AwsCredentialIdentityProvider;
  /** Cognito Identity endpoint. Default `AWS_ENDPOINT_URL_COGNITO_IDENTITY`, else the regional one. */
  endpoint?: string;
  /** Time source for the signature date. Default the system clock. */
  clock?: Clock;
}

const STEP = "aws-cognito";

/** A {@link TokenSource} of Cognito OpenID tokens (`iss` `https://cognito-identity.amazonaws.com`, `aud` the pool id, `sub` the identity id). */
export function cognitoDeveloperToken(options: CognitoDeveloperTokenOptions): TokenSource {
  if (!/^[\w-]+:[0-9a-f-]+$/.test(options.identityPoolId ?? "")) throw new KeylessError("ERR_CONFIG", "identityPoolId must look like us-east-1:00000000-0000-0000-0000-000000000000.", { step: "config" });
  if (!options.developerProviderName) throw new KeylessError("ERR_CONFIG", "developerProviderName is required (the pool's developer provider name).", { step: "config" });
  if (!options.developerUserId) throw new KeylessError("ERR_CONFIG", "developerUserId must be a non-empty, stable id for this workload.", { step: "config" });
  const duration = options.tokenDurationSeconds;
  if (duration !== undefined && (!Number.isInteger(duration) || duration < 1 || duration > 86_400)) throw new KeylessError("ERR_CONFIG", "tokenDurationSeconds must be from 1 to 86400.", { step: "config" });
  const region = options.region ?? options.identityPoolId.split(":")[0] ?? "us-east-1";
  const endpoint = cognitoEndpoint(options.endpoint) ?? regionalEndpoint("cognito-identity", region);
  const credentials = awsCredentialSource(options.awsCredentials, options);
  const body = JSON.stringify({ IdentityPoolId: options.identityPoolId, Logins: { [options.developerProviderName]: options.developerUserId }, ...(duration === undefined ? {} : { TokenDuration: duration }) });
  return async (req) => {
    const [creds, { SignatureV4 }, { Hash }, { HttpRequest }] = await Promise.all([credentials(), import("@smithy/signature-v4"), import("@smithy/hash-node"), import("@smithy/protocol-http")]);
    const signer = new SignatureV4({ service: "cognito-identity", region, credentials: creds, sha256: Hash.bind(null, "sha256") });
    const signed = await signer.sign(
      new HttpRequest({
        method: "POST",
        protocol: endpoint.protocol,
        hostname: endpoint.hostname,
        ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
        path: endpoint.pathname,
        headers: { host: endpoint.host, "content-type": "application/x-amz-json-1.1", "x-amz-target": "AWSCognitoIdentityService.GetOpenIdTokenForDeveloperIdentity" },
        body,
      }),
      { signingDate: new Date((options.clock ?? systemClock).now()) },
    );
    const response = await request({ ...options, url: endpoint, method: "POST", headers: signed.headers, body, step: STEP, signal: req?.signal });
    if (response.status !== 200) {
      let type = `HTTP ${response.status}`;
      let message = "";
      try {
        const parsed = JSON.parse(response.body.toString("utf8")) as { __type?: unknown; message?: unknown; Message?: unknown };
        type = String(parsed.__type ?? type).split("#").pop() ?? type;
        message = String(parsed.message ?? parsed.Message ?? "").slice(0, 300);
      } catch {
        // not JSON
      }
      const retryable = response.status >= 500 || type === "TooManyRequestsException" || type === "ThrottlingException" || type === "InternalErrorException";
      throw new KeylessError("ERR_COGNITO", `Cognito ${describeUrl(endpoint)} refused GetOpenIdTokenForDeveloperIdentity (${type}): ${message}`, {
        step: STEP,
        status: response.status,
        upstreamCode: type,
        retryable,
        retryAfterMs: retryAfterMs(response),
        details: { identityPoolId: options.identityPoolId, developerProviderName: options.developerProviderName },
        hint:
          type === "NotAuthorizedException" || type === "AccessDeniedException"
            ? `The workload's IAM role needs cognito-identity:GetOpenIdTokenForDeveloperIdentity on the pool, and the pool's developer provider must be ${options.developerProviderName}.`
            : type === "ResourceNotFoundException"
              ? "Check identityPoolId and the region."
              : undefined,
      });
    }
    const token = parseJsonObject(response, STEP, describeUrl(endpoint))["Token"];
    if (typeof token !== "string") throw new KeylessError("ERR_RESPONSE_MALFORMED", "Cognito answered without a Token.", { step: STEP, retryable: true, maxAttempts: 2 });
    decodeJwt(token, STEP);
    return token;
  };
}
