/**
 * @module sources/aws-web-identity-token
 * An OIDC token for an AWS workload from STS `GetWebIdentityToken` (IAM outbound identity
 * federation, enabled per account): `iss` is the account's issuer URL, `sub` the role's ARN, `aud`
 * the audience asked for. Signed with the workload's own credentials; regional endpoints only.
 */
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { KeylessError } from "../core/errors.js";
import { describeUrl, type TransportOptions } from "../core/http.js";
import { awsCredentialSource } from "./aws-credentials.js";
import { regionalEndpoint, stsEndpoint } from "./aws-endpoints.js";
import { stsClient, withTimeout } from "./sts-client.js";
import type { TokenSource } from "./types.js";

export interface AwsWebIdentityTokenOptions extends TransportOptions {
  /** The token's `aud`. */
  audience: string;
  /** STS region (the global endpoint does not serve this action). Default `AWS_REGION`, `AWS_DEFAULT_REGION`. */
  region?: string;
  /** Token lifetime, seconds, 60 to 3600. Default 300. */
  durationSeconds?: number;
  /** `RS256` (default) or `ES384`. */
  signingAlgorithm?: "RS256" | "ES384";
  /** The workload's AWS credentials. Default: the AWS SDK's chain. */
  awsCredentials?: AwsCredentialIdentityProvider;
  /** STS endpoint. Default `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, else regional. */
  endpoint?: string;
}

const STEP = "aws-sts-web-identity-token";

/** A {@link TokenSource} of STS `GetWebIdentityToken` tokens. */
export function awsWebIdentityToken(options: AwsWebIdentityTokenOptions): TokenSource {
  if (!options.audience) throw new KeylessError("ERR_CONFIG", "GetWebIdentityToken needs an audience.", { step: "config" });
  const duration = options.durationSeconds ?? 300;
  if (!Number.isInteger(duration) || duration < 60 || duration > 3600) throw new KeylessError("ERR_CONFIG", "durationSeconds for GetWebIdentityToken must be from 60 to 3600.", { step: "config" });
  const endpoint = stsEndpoint(options.endpoint);
  const credentials = awsCredentialSource(options.awsCredentials, options);
  return async () => {
    const region = options.region || process.env["AWS_REGION"] || process.env["AWS_DEFAULT_REGION"];
    if (!region) throw new KeylessError("ERR_NO_REGION", "GetWebIdentityToken needs a regional STS endpoint: pass region or set AWS_REGION.", { step: STEP });
    const [client, { GetWebIdentityTokenCommand }] = await Promise.all([stsClient(region, endpoint, options, credentials), import("@aws-sdk/client-sts")]);
    let output;
    try {
      output = await withTimeout(options.timeoutMs, (abortSignal) =>
        client.send(new GetWebIdentityTokenCommand({ Audience: [options.audience], DurationSeconds: duration, SigningAlgorithm: options.signingAlgorithm ?? "RS256" }), { abortSignal }),
      );
    } catch (error) {
      if (error instanceof KeylessError) throw error;
      const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      const name = (e.name ?? "Error").replace(/Exception$/, "");
      const where = describeUrl(endpoint ?? regionalEndpoint("sts", region));
      const base = { step: STEP, cause: error, status, upstreamCode: e.name ?? "Error" };
      if (status === undefined || status >= 500 || status === 429 || name === "Throttling") throw new KeylessError("ERR_STS_UNAVAILABLE", `STS at ${where} is unavailable for GetWebIdentityToken (${status ?? name}).`, { ...base, retryable: true });
      if (name === "AccessDenied") {
        throw new KeylessError("ERR_STS_ACCESS_DENIED", `STS refused GetWebIdentityToken: ${(e.message ?? "").slice(0, 300)}`, { ...base, hint: `Allow sts:GetWebIdentityToken to this workload's role, with sts:IdentityTokenAudience "${options.audience}".` });
      }
      throw new KeylessError("ERR_STS_REJECTED", `STS rejected GetWebIdentityToken (${e.name ?? "Error"}): ${(e.message ?? "").slice(0, 300)}`, { ...base, hint: "Enable outbound identity federation for the account (aws iam enable-outbound-web-identity-federation) and use a regional STS endpoint." });
    }
    if (!output.WebIdentityToken) throw new KeylessError("ERR_RESPONSE_MALFORMED", "STS answered GetWebIdentityToken without a token.", { step: STEP, retryable: true, maxAttempts: 2 });
    return output.WebIdentityToken;
  };
}
