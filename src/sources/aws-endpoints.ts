/**
 * @module sources/aws-endpoints
 * Endpoint overrides for AWS services keyless calls, read the way the AWS SDK reads them and
 * checked against keyless's endpoint policy.
 */
import { assertEndpointAllowed } from "../core/http.js";

/** The STS endpoint override: option, `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`. */
export function stsEndpoint(option?: string): URL | undefined {
  return endpointOverride(option, "STS", "aws-sts");
}

/** The Cognito Identity endpoint override: option, `AWS_ENDPOINT_URL_COGNITO_IDENTITY`, `AWS_ENDPOINT_URL`. */
export function cognitoEndpoint(option?: string): URL | undefined {
  return endpointOverride(option, "COGNITO_IDENTITY", "aws-cognito");
}

function endpointOverride(option: string | undefined, service: string, step: string): URL | undefined {
  const value = option ?? process.env[`AWS_ENDPOINT_URL_${service}`] ?? process.env["AWS_ENDPOINT_URL"];
  return value === undefined || value === "" ? undefined : assertEndpointAllowed(value, step);
}

/** The regional endpoint of `service` in `region`'s partition. */
export function regionalEndpoint(service: string, region: string): URL {
  return new URL(`https://${service}.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}/`);
}
