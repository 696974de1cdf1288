/**
 * @module gcp/aws-workload-client
 * Google credentials for a workload on AWS (Lambda, ECS, EKS, EC2): the workload's AWS
 * credentials sign `GetCallerIdentity`, Google STS exchanges it, and the service account is
 * impersonated when one is configured.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { request } from "../core/http.js";
import { awsCredentialSource, awsRegion } from "../sources/aws-credentials.js";
import { regionalEndpoint, stsEndpoint } from "../sources/aws-endpoints.js";
import { systemClock } from "../core/clock.js";
import { awsSubjectToken } from "./aws-subject-token.js";
import { WorkloadIdentityClient, type SubjectToken, type WorkloadIdentityOptions } from "./workload-identity-client.js";

export interface AwsWorkloadOptions extends WorkloadIdentityOptions {
  /** The workload's AWS credentials. Default: the AWS SDK's chain (`fromNodeProviderChain`: environment, container endpoints, IRSA, SSO and profiles, EC2 IMDSv2). */
  awsCredentials?: AwsCredentialIdentityProvider;
  /** The workload's region. Default `AWS_REGION`, `AWS_DEFAULT_REGION`, else IMDS `placement/region`. */
  region?: string;
  /** IMDS base URL for the region lookup. Default `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://169.254.169.254`. */
  imdsEndpoint?: string;
  /** `GetCallerIdentity` URL template with `{region}`. Default `https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15`. */
  regionalCredVerificationUrl?: string;
  /** @internal A zone URL from a credential configuration, the last-resort region source. */
  availabilityZoneUrl?: string;
}

/** `AuthClient` for `new Storage({ authClient })` / `new BigQuery({ authClient })` on AWS. */
export class AwsWorkloadClient extends WorkloadIdentityClient {
  constructor(options: AwsWorkloadOptions) {
    const transport = { ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }), ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) };
    const credentials = awsCredentialSource(options.awsCredentials, transport);
    let region: Promise<string> | undefined;
    const regionOnce = () => {
      region ??= awsRegion({ ...transport, ...(options.region ? { region: options.region } : {}), ...(options.imdsEndpoint ? { imdsEndpoint: options.imdsEndpoint } : {}), ...(options.availabilityZoneUrl ? { availabilityZoneUrl: options.availabilityZoneUrl } : {}) });
      region.catch(() => (region = undefined));
      return region;
    };
    const subject = async (): Promise<SubjectToken> => {
      // The credential fetch and the region lookup overlap: on EC2 they are the longest part of a cold start.
      const [creds, r] = await Promise.all([credentials(), regionOnce()]);
      const token = await awsSubjectToken(creds, r, options.audience, options.regionalCredVerificationUrl, new Date((options.clock ?? systemClock).now()));
      let arn: Promise<string | undefined> | undefined;
      const caller = () => (arn ??= callerArn(creds, r));
      return {
        token,
        type: "urn:ietf:params:aws:token-type:aws4_request",
        caller,
        principalHint: async () => {
          const a = await caller();
          const role = a?.replace(/^(arn:aws[\w-]*:sts::\d{12}:assumed-role\/[^/]+)\/.*$/, "$1");
          return role === undefined ? undefined : `attribute.aws_role/${role}`;
        },
      };
    };
    super(options, subject, { source: "aws", credentials: options.awsCredentials ?? "chain", region: options.region, imds: options.imdsEndpoint, verification: options.regionalCredVerificationUrl });
  }
}

/** `new AwsWorkloadClient(options)`. */
export function fromAwsWorkload(options: AwsWorkloadOptions): AwsWorkloadClient {
  return new AwsWorkloadClient(options);
}

/** Asks AWS STS who these credentials are (only to explain a failure). */
async function callerArn(credentials: AwsCredentialIdentity, region: string): Promise<string | undefined> {
  const [{ SignatureV4 }, { Hash }, { HttpRequest }] = await Promise.all([import("@smithy/signature-v4"), import("@smithy/hash-node"), import("@smithy/protocol-http")]);
  const endpoint = stsEndpoint() ?? regionalEndpoint("sts", region);
  const body = "Action=GetCallerIdentity&Version=2011-06-15";
  const signer = new SignatureV4({ service: "sts", region, credentials, sha256: Hash.bind(null, "sha256") });
  const signed = await signer.sign(new HttpRequest({ method: "POST", protocol: endpoint.protocol, hostname: endpoint.hostname, ...(endpoint.port ? { port: Number(endpoint.port) } : {}), path: endpoint.pathname, headers: { host: endpoint.host, "content-type": "application/x-www-form-urlencoded" }, body }), { signingDate: new Date(systemClock.now()) });
  const response = await request({ url: endpoint, method: "POST", headers: signed.headers, body, step: "aws-sts", timeoutMs: 3_000 });
  if (response.status !== 200) return undefined;
  // One element of a trusted AWS answer; not worth an XML parser on this path.
  return /<Arn>([^<]+)<\/Arn>/.exec(response.body.toString("utf8"))?.[1];
}
