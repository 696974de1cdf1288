/**
 * @module testing/clouds
 * `startEmulatedClouds()`: the identity planes of AWS, Google Cloud and Azure on loopback, with a
 * default scenario covering every direction, request counters, latency and scripted faults.
 */
import { randomBytes } from "node:crypto";
import { channel } from "node:diagnostics_channel";
import { systemClock, type Clock } from "../core/clock.js";
import { awsStsRoutes, awsWorkloadRoutes, AwsKeyStore, s3Routes, type AwsScenario } from "./aws.js";
import { azureIssuerUrl, azureManagedIdentityRoutes, type AzureScenario } from "./azure.js";
import { gcpMetadataRoutes, type GcpScenario } from "./gcp.js";
import { googleRoutes, type AwsSubjectRecord, type GoogleScenario, type GoogleTokenInfo } from "./google.js";
import { Issuer, IssuerRegistry } from "./issuer.js";
import { cognitoIdentityId, cognitoRoutes, type CognitoScenario } from "./cognito.js";
import { entraRoutes, type EntraIssued, type EntraScenario } from "./entra.js";
import { createTestCertificate, type TestCertificate } from "./tls.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Instrumentation, startService, type RunningService } from "./service.js";

export interface Scenario {
  gcp: GcpScenario;
  /** Workload identity pools, impersonable service accounts and Cloud Storage contents. */
  google: GoogleScenario;
  aws: AwsScenario;
  azure: AzureScenario;
  /** Entra applications and their federated identity credentials. */
  entra: EntraScenario;
  /** Cognito identity pools with a developer provider. */
  cognito: CognitoScenario;
}

export interface EmulatedCloudsOptions {
  /** Clock for every token and credential issued and every expiry checked. Default the system clock. */
  clock?: Clock;
  /** Added to every answer, milliseconds. Default 0. */
  latencyMs?: number;
  /** Replaces parts of {@link defaultScenario}. */
  scenario?: { gcp?: Partial<GcpScenario>; google?: Partial<GoogleScenario>; aws?: Partial<AwsScenario>; azure?: Partial<AzureScenario>; entra?: Partial<EntraScenario>; cognito?: Partial<CognitoScenario> };
  /** Certificate for the https endpoints (Entra). Default: a new one in a temporary folder. Tests whose processes trust a CA through NODE_EXTRA_CA_CERTS pass that one. */
  tls?: TestCertificate;
}

/** The default scenario: one workload identity per cloud, each trusted by the other two. */
export function defaultScenario(): Scenario {
  const tenantId = "8a1f0c5e-4b6d-4e2a-9c3b-7d5e6f708192";
  const gcp: GcpScenario = {
    projectId: "keyless-demo",
    projectNumber: "123456789012",
    serviceAccountEmail: "workload@keyless-demo.iam.gserviceaccount.com",
    serviceAccountUniqueId: "107364329874612345678",
  };
  const azure: AzureScenario = {
    tenantId,
    managedIdentity: {
      clientId: "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
      objectId: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
      resourceId: "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/keyless/providers/Microsoft.ManagedIdentity/userAssignedIdentities/workload",
    },
    userAssignedIdentities: [],
  };
  const accountId = "111122223333";
  const azureIssuer = azureIssuerUrl(tenantId).replace(/^https:\/\//, "");
  const aws: AwsScenario = {
    accountId,
    region: "us-east-1",
    workloadRoleArn: `arn:aws:iam::${accountId}:role/keyless-workload`,
    outboundIssuer: "https://0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b.tokens.sts.global.api.aws",
    oidcProviders: [{ url: azureIssuerUrl(tenantId), clientIds: ["api://keyless-aws"] }],
    roles: [
      {
        arn: `arn:aws:iam::${accountId}:role/keyless-from-gcp`,
        trust: [{ provider: "accounts.google.com", conditions: { "accounts.google.com:aud": gcp.serviceAccountUniqueId, "accounts.google.com:oaud": "sts.amazonaws.com", "accounts.google.com:sub": gcp.serviceAccountUniqueId } }],
      },
      {
        arn: `arn:aws:iam::${accountId}:role/keyless-from-azure`,
        trust: [{ provider: azureIssuer, conditions: { [`${azureIssuer}:aud`]: "api://keyless-aws", [`${azureIssuer}:sub`]: azure.managedIdentity.objectId } }],
      },
    ],
  };
  const pool = `projects/${gcp.projectNumber}/locations/global/workloadIdentityPools/keyless`;
  const google: GoogleScenario = {
    pools: [
      { audience: `//iam.googleapis.com/${pool}/providers/aws`, kind: "aws", awsAccountId: accountId },
      { audience: `//iam.googleapis.com/${pool}/providers/azure`, kind: "oidc", issuerUri: azureIssuerUrl(tenantId), allowedAudiences: ["api://keyless-gcp"] },
    ],
    serviceAccounts: [
      {
        email: `keyless-target@${gcp.projectId}.iam.gserviceaccount.com`,
        uniqueId: "104857601234567890123",
        workloadIdentityUsers: [
          `principalSet://iam.googleapis.com/${pool}/attribute.aws_role/arn:aws:sts::${accountId}:assumed-role/keyless-workload`,
          `principal://iam.googleapis.com/${pool}/subject/${azure.managedIdentity.objectId}`,
        ],
      },
    ],
    buckets: { "keyless-demo-bucket": { "hello.txt": "hello from the emulated Cloud Storage" } },
  };
  const cognitoPool = { identityPoolId: "us-east-1:7c1f0a3e-2b4d-4f6a-9e8c-1d2e3f4a5b6c", developerProviderName: "login.keyless.workload" };
  const cognito: CognitoScenario = { pools: [cognitoPool] };
  const entra: EntraScenario = {
    applications: [
      {
        clientId: "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b",
        objectId: "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d",
        federatedCredentials: [
          { issuer: "https://accounts.google.com", subject: gcp.serviceAccountUniqueId, audiences: ["api://AzureADTokenExchange"] },
          { issuer: "https://cognito-identity.amazonaws.com", subject: cognitoIdentityId(cognitoPool, "keyless-workload"), audiences: [cognitoPool.identityPoolId] },
          { issuer: `https://oidc.prod-aks.azure.com/${tenantId}/00000000-0000-4000-8000-00000000aa55/`, subject: "system:serviceaccount:default:workload", audiences: ["api://AzureADTokenExchange"] },
          { issuer: "https://0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b.tokens.sts.global.api.aws", subject: `arn:aws:iam::${accountId}:role/keyless-workload`, audiences: ["api://AzureADTokenExchange"] },
        ],
      },
    ],
  };
  return { gcp, google, aws, azure, entra, cognito };
}

/** Environment variables that point the vendor SDKs and keyless at the emulated clouds. */
export interface EmulatedEnvironment {
  GCE_METADATA_HOST: string;
  AWS_ENDPOINT_URL_STS: string;
  AWS_EC2_METADATA_SERVICE_ENDPOINT: string;
  AWS_REGION: string;
  AZURE_POD_IDENTITY_AUTHORITY_HOST: string;
  [name: string]: string;
}

export interface EmulatedClouds {
  scenario: Scenario;
  clock: Clock;
  /** Request counters, latency and faults for every endpoint (names like `aws.sts.AssumeRoleWithWebIdentity`). */
  instrumentation: Instrumentation;
  /** Every issuer (Google, Azure, ...), by `iss`. */
  issuers: IssuerRegistry;
  /** Credentials the emulated AWS issued (S3 and SigV4 checks use these). */
  awsKeys: AwsKeyStore;
  /** Base URLs of each service. */
  urls: { gcpMetadata: string; awsSts: string; s3: string; awsMetadata: string; azureMetadata: string; google: string; entra: string; cognito: string };
  /** The certificate of the https endpoints; `tls.ca` is the CA to trust (`NODE_EXTRA_CA_CERTS`, keyless's `ca`). */
  tls: TestCertificate;
  /** Each access token the emulated Entra issued: for which application and resource, on whose assertion. */
  entraGrants: EntraIssued[];
  /** Google access tokens the emulated Google issued, and whom they speak for. */
  googleTokens: Map<string, GoogleTokenInfo>;
  /** Each AWS subject token the emulated Google STS accepted: the caller's ARN and the headers it signed. */
  awsSubjects: AwsSubjectRecord[];
  /** The principal behind each authenticated Cloud Storage / BigQuery call, in order. */
  googleApiCallers: string[];
  /** Fresh credentials for the AWS workload role, as Lambda puts them in the environment. */
  lambdaEnv(): Record<string, string>;
  /**
   * A gcloud-style `external_account` credential configuration for AWS → GCP or Azure → GCP, as
   * `gcloud iam workload-identity-pools create-cred-config` writes it, pointing at these emulators.
   */
  gcpCredentialConfig(kind: "aws" | "azure", options?: { impersonate?: boolean }): Record<string, unknown>;
  /** The variables common to every direction (metadata hosts, STS endpoint, region). */
  env: EmulatedEnvironment;
  /** ECS/EKS-style container credentials: `AWS_CONTAINER_CREDENTIALS_FULL_URI` and its token. */
  containerEnv: Record<string, string>;
  /** App Service / Functions / Container Apps: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`. */
  appServiceEnv: Record<string, string>;
  /** S3 access key ids that signed accepted requests, in order. */
  s3Signers: { accessKeyIds: string[] };
  /** Every token, key and secret the emulators issued (leak checks). */
  secrets(): string[];
  /**
   * Writes an AKS-style workload identity token (the default scenario's cluster issuer and service
   * account, audience `api://AzureADTokenExchange`) to `path`, as the kubelet projects it, and returns
   * the environment AKS sets for the pod: `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_AUTHORITY_HOST`.
   */
  writeWorkloadIdentityTokenFile(path: string, lifetimeSeconds?: number): Promise<Record<string, string>>;
  /** Signs a token as an arbitrary OIDC issuer (registered on first use), e.g. a Kubernetes service account token. */
  signAs(iss: string, claims: Record<string, unknown>, lifetimeSeconds?: number): Promise<string>;
  close(): Promise<void>;
}

/** Starts every emulated service on loopback. */
export async function startEmulatedClouds(options: EmulatedCloudsOptions = {}): Promise<EmulatedClouds> {
  const clock = options.clock ?? systemClock;
  const base = defaultScenario();
  const scenario: Scenario = {
    gcp: { ...base.gcp, ...options.scenario?.gcp },
    google: { ...base.google, ...options.scenario?.google },
    aws: { ...base.aws, ...options.scenario?.aws },
    azure: { ...base.azure, ...options.scenario?.azure },
    entra: { ...base.entra, ...options.scenario?.entra },
    cognito: { ...base.cognito, ...options.scenario?.cognito },
  };
  const instrumentation = new Instrumentation();
  instrumentation.latencyMs = options.latencyMs ?? 0;
  const issuers = new IssuerRegistry();
  const google = issuers.add(await Issuer.create("https://accounts.google.com", clock));
  const azureIssuer = issuers.add(await Issuer.create(azureIssuerUrl(scenario.azure.tenantId), clock));
  const awsKeys = new AwsKeyStore();
  const issued: string[] = [];
  const containerToken = randomBytes(24).toString("base64url");
  const identityHeader = randomBytes(16).toString("hex");
  const buckets = new Map();
  const s3Signers = { accessKeyIds: [] as string[] };

  const googleTokens = new Map<string, GoogleTokenInfo>();
  const awsSubjects: AwsSubjectRecord[] = [];
  const googleApiCallers: string[] = [];
  const entraGrants: EntraIssued[] = [];
  const tls = options.tls ?? createTestCertificate(mkdtempSync(join(tmpdir(), "keyless-tls-")));
  const cognitoIssuer = issuers.add(await Issuer.create("https://cognito-identity.amazonaws.com", clock));
  const outboundIssuer = scenario.aws.outboundIssuer === undefined ? undefined : issuers.add(await Issuer.create(scenario.aws.outboundIssuer, clock));
  let entraUrl = "";
  const services: RunningService[] = [];
  try {
    const start = async (...args: Parameters<typeof startService>) => {
      const service = await startService(...args);
      services.push(service);
      return service;
    };
    const gcpMetadata = await start("gcp.metadata", gcpMetadataRoutes(scenario.gcp, google, issued), instrumentation);
    const awsSts = await start("aws.sts", awsStsRoutes(scenario.aws, issuers, awsKeys, clock, issued, outboundIssuer), instrumentation);
    const s3 = await start("aws.s3", s3Routes(awsKeys, clock, buckets, s3Signers), instrumentation);
    const awsMetadata = await start("aws.imds", awsWorkloadRoutes(scenario.aws, awsKeys, clock, containerToken), instrumentation);
    const googleApis = await start("google", googleRoutes(scenario.google, scenario.gcp.projectId, issuers, google, awsKeys, clock, googleTokens, issued, awsSubjects, googleApiCallers), instrumentation);
    const entraService = await start("azure.entra", entraRoutes(scenario.azure.tenantId, scenario.entra, issuers, azureIssuer, clock, () => entraUrl, issued, entraGrants), instrumentation, tls);
    entraUrl = entraService.url;
    const cognitoService = await start("aws.cognito", cognitoRoutes(scenario.cognito, cognitoIssuer, awsKeys, clock, issued), instrumentation);
    const azureMetadata = await start("azure.imds", azureManagedIdentityRoutes(scenario.azure, azureIssuer, clock, identityHeader, issued), instrumentation);

    const clouds: EmulatedClouds = {
      scenario,
      clock,
      instrumentation,
      issuers,
      awsKeys,
      urls: { gcpMetadata: gcpMetadata.url, awsSts: awsSts.url, s3: s3.url, awsMetadata: awsMetadata.url, azureMetadata: azureMetadata.url, google: googleApis.url, entra: entraService.url, cognito: cognitoService.url },
      tls,
      entraGrants,
      googleTokens,
      awsSubjects,
      googleApiCallers,
      lambdaEnv: () => {
        const role = scenario.aws.workloadRoleArn.split("/").pop() ?? "workload";
        const c = awsKeys.issue(`arn:aws:sts::${scenario.aws.accountId}:assumed-role/${role}/keyless-lambda`, scenario.aws.accountId, clock.now() + 12 * 3600_000);
        return { AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_SESSION_TOKEN: c.sessionToken ?? "", AWS_REGION: scenario.aws.region, AWS_LAMBDA_FUNCTION_NAME: "keyless-lambda" };
      },
      gcpCredentialConfig: (kind, configOptions) => {
        const provider = scenario.google.pools.find((p) => p.audience.endsWith(`/providers/${kind}`)) ?? scenario.google.pools[0];
        const target = scenario.google.serviceAccounts[0];
        const credentialSource =
          kind === "aws"
            ? {
                environment_id: "aws1",
                region_url: `${awsMetadata.url}/latest/meta-data/placement/availability-zone`,
                url: `${awsMetadata.url}/latest/meta-data/iam/security-credentials`,
                regional_cred_verification_url: "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
                imdsv2_session_token_url: `${awsMetadata.url}/latest/api/token`,
              }
            : {
                url: `${azureMetadata.url}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://keyless-gcp`,
                headers: { Metadata: "True" },
                format: { type: "json", subject_token_field_name: "access_token" },
              };
        return {
          type: "external_account",
          audience: provider?.audience,
          subject_token_type: kind === "aws" ? "urn:ietf:params:aws:token-type:aws4_request" : "urn:ietf:params:oauth:token-type:jwt",
          token_url: `${googleApis.url}/v1/token`,
          ...(configOptions?.impersonate === false || target === undefined ? {} : { service_account_impersonation_url: `${googleApis.url}/v1/projects/-/serviceAccounts/${target.email}:generateAccessToken` }),
          credential_source: credentialSource,
        };
      },
      env: {
        GCE_METADATA_HOST: gcpMetadata.host,
        AWS_ENDPOINT_URL_STS: awsSts.url,
        AWS_EC2_METADATA_SERVICE_ENDPOINT: awsMetadata.url,
        AWS_REGION: scenario.aws.region,
        AZURE_POD_IDENTITY_AUTHORITY_HOST: azureMetadata.url,
        AZURE_AUTHORITY_HOST: entraService.url,
        AZURE_TENANT_ID: scenario.azure.tenantId,
        AWS_ENDPOINT_URL_COGNITO_IDENTITY: cognitoService.url,
        NODE_EXTRA_CA_CERTS: tls.caFile,
      },
      containerEnv: { AWS_CONTAINER_CREDENTIALS_FULL_URI: `${awsMetadata.url}/v2/credentials/keyless`, AWS_CONTAINER_AUTHORIZATION_TOKEN: containerToken },
      appServiceEnv: { IDENTITY_ENDPOINT: `${azureMetadata.url}/msi/token`, IDENTITY_HEADER: identityHeader },
      s3Signers,
      secrets: () => [...issued, ...awsKeys.secrets(), containerToken, identityHeader],
      writeWorkloadIdentityTokenFile: async (path, lifetimeSeconds) => {
        const app = scenario.entra.applications[0];
        const fic = app?.federatedCredentials.find((f) => f.issuer.startsWith("https://oidc.prod-aks.azure.com/"));
        if (app === undefined || fic === undefined) throw new Error("the scenario has no AKS federated credential");
        const issuer = issuers.get(fic.issuer) ?? issuers.add(await Issuer.create(fic.issuer, clock));
        const token = await issuer.sign({ aud: "api://AzureADTokenExchange", sub: fic.subject, "kubernetes.io": { namespace: "default", serviceaccount: { name: "workload" } } }, lifetimeSeconds ?? 3600);
        issued.push(token);
        writeFileSync(path, token, { mode: 0o600 });
        return { AZURE_FEDERATED_TOKEN_FILE: path, AZURE_CLIENT_ID: app.clientId, AZURE_TENANT_ID: scenario.azure.tenantId, AZURE_AUTHORITY_HOST: entraService.url };
      },
      signAs: async (iss, claims, lifetimeSeconds) => {
        const issuer = issuers.get(iss) ?? issuers.add(await Issuer.create(iss, clock));
        const token = await issuer.sign(claims, lifetimeSeconds);
        issued.push(token);
        return token;
      },
      close: async () => {
        await Promise.all(services.map((s) => s.close()));
      },
    };
    // Leak checks subscribe here to learn every secret the emulators issue.
    const started = channel("keyless:testing:clouds");
    if (started.hasSubscribers) started.publish(clouds);
    return clouds;
  } catch (error) {
    await Promise.all(services.map((s) => s.close()));
    throw error;
  }
}
