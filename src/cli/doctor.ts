/**
 * @module cli/doctor
 * `keyless doctor`: detects where it runs, walks each configured direction step by step with
 * timings, prints the decoded (non-secret) claims and the exact values the other side must hold,
 * and names the first failing step and its fix.
 */
import { performance } from "node:perf_hooks";
import { isKeylessError, KeylessError } from "../core/errors.js";
import { request } from "../core/http.js";
import { decodeJwt, describeClaims, type JwtClaims } from "../core/jwt.js";
import { flag, required, type Flags } from "./sources.js";

export interface DoctorStep {
  direction: string;
  step: string;
  ok: boolean;
  ms: number;
  detail?: Record<string, unknown>;
  error?: { code: string; message: string; hint?: string; upstreamCode?: string };
}

export interface DoctorReport {
  environment: { gcp: boolean; azure: "imds" | "app-service" | false; aws: "environment" | "container" | "imds" | false };
  steps: DoctorStep[];
  /** What the other side must hold, per direction. */
  requirements: Record<string, string[]>;
  ok: boolean;
}

async function probe(url: string, init: { method?: string; headers?: Record<string, string> }): Promise<number | undefined> {
  try {
    const r = await request({ url, ...init, step: "doctor-probe", connectTimeoutMs: 500, timeoutMs: 1_000 });
    return r.status;
  } catch {
    return undefined;
  }
}

async function detect(): Promise<DoctorReport["environment"]> {
  const gcpHost = process.env["GCE_METADATA_HOST"] ?? "metadata.google.internal";
  const azureBase = process.env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] ?? "http://169.254.169.254";
  const awsBase = process.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254";
  const [gcp, azure, aws] = await Promise.all([
    probe(`http://${gcpHost}/computeMetadata/v1/project/project-id`, { headers: { "metadata-flavor": "Google" } }),
    process.env["IDENTITY_ENDPOINT"] && process.env["IDENTITY_HEADER"] ? Promise.resolve(-1) : probe(`${azureBase}/metadata/identity/oauth2/token?api-version=2018-02-01`, { headers: { metadata: "true" } }),
    process.env["AWS_ACCESS_KEY_ID"] ? Promise.resolve(-1) : process.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] || process.env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] ? Promise.resolve(-2) : probe(`${awsBase}/latest/api/token`, { method: "PUT", headers: { "x-aws-ec2-metadata-token-ttl-seconds": "60" } }),
  ]);
  return {
    gcp: gcp === 200,
    azure: azure === -1 ? "app-service" : azure === 400 || azure === 200 ? "imds" : false,
    aws: aws === -1 ? "environment" : aws === -2 ? "container" : aws === 200 ? "imds" : false,
  };
}

/** Every direction configured here: `--to`, else each target whose environment variables are set. */
function configuredTargets(flags: Flags): string[] {
  const to = flag(flags, "to");
  if (to !== undefined) return [to];
  return [
    ...(process.env["AWS_ROLE_ARN"] ? ["aws"] : []),
    ...(process.env["GOOGLE_APPLICATION_CREDENTIALS"] ? ["gcp"] : []),
    ...(process.env["AZURE_CLIENT_ID"] && process.env["AZURE_TENANT_ID"] ? ["azure"] : []),
  ];
}

export async function doctor(flags: Flags): Promise<DoctorReport> {
  const targets = configuredTargets(flags);
  if (targets.length === 0) throw new KeylessError("ERR_CONFIG", "Nothing to check: pass --to aws|gcp|azure with its options, or set AWS_ROLE_ARN, GOOGLE_APPLICATION_CREDENTIALS or AZURE_CLIENT_ID and AZURE_TENANT_ID.", { step: "cli" });
  const environment = await detect();
  const steps: DoctorStep[] = [];
  const requirements: Record<string, string[]> = {};
  for (const to of targets) {
    const from = flag(flags, "from") ?? (to !== "gcp" && environment.gcp ? "gcp" : to !== "azure" && environment.azure ? "azure" : to !== "aws" && environment.aws ? "aws" : undefined);
    if (from === undefined) throw new KeylessError("ERR_CONFIG", "Could not tell where this runs (no metadata server answered): pass --from gcp|azure|aws.", { step: "cli" });
    await checkDirection(from, to, flags, steps, requirements);
  }
  return { environment, steps, requirements, ok: steps.every((s) => s.ok) };
}

async function checkDirection(from: string, to: string, flags: Flags, steps: DoctorStep[], requirements: Record<string, string[]>): Promise<void> {
  const direction = `${from} → ${to}`;
  const run = async <T>(step: string, fn: () => Promise<T>, describe: (value: T) => Record<string, unknown>): Promise<T | undefined> => {
    const started = performance.now();
    try {
      const value = await fn();
      steps.push({ direction, step, ok: true, ms: performance.now() - started, detail: describe(value) });
      return value;
    } catch (error) {
      const e = isKeylessError(error) ? error : new KeylessError("ERR_CONFIG", error instanceof Error ? error.message : String(error), { step });
      steps.push({ direction, step, ok: false, ms: performance.now() - started, error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}), ...(e.upstreamCode ? { upstreamCode: e.upstreamCode } : {}) }, ...(e.details ? { detail: { ...e.details } } : {}) });
      return undefined;
    }
  };
  const claimsOf = (token: string) => describeClaims(decodeJwt(token));

  if (to === "aws") {
    const roleArn = flag(flags, "role-arn") ?? process.env["AWS_ROLE_ARN"] ?? required(flags, "role-arn", "the role to assume");
    const region = flag(flags, "region") ?? process.env["AWS_REGION"] ?? "us-east-1";
    const { tokenSourceFor } = await import("./sources.js");
    const audience = from === "gcp" ? flag(flags, "audience") ?? "sts.amazonaws.com" : undefined;
    const source = await tokenSourceFor(from, { ...flags, ...(audience ? { audience } : {}) });
    const token = await run(`${from === "gcp" ? "GCP metadata: Google ID token" : "Azure managed identity token"}`, source, (t) => ({ claims: claimsOf(t) }));
    if (token !== undefined) {
      const { trustPolicyHint, assumeRoleWithWebIdentity, stsEndpoint } = await import("../aws/sts.js");
      requirements[direction] = [trustPolicyHint(decodeJwt(token), roleArn)];
      await run("AWS STS AssumeRoleWithWebIdentity", () => assumeRoleWithWebIdentity({ roleArn, roleSessionName: "keyless-doctor", durationSeconds: 900 }, token, region, stsEndpoint(), {}, Date.now), (r) => ({ assumedRoleArn: r.assumedRoleArn, expires: new Date(r.expiresAt).toISOString() }));
    }
  } else if (to === "gcp") {
    const gcp = await import("../gcp/index.js");
    const config = flag(flags, "config") ?? process.env["GOOGLE_APPLICATION_CREDENTIALS"];
    const allowEndpoints = typeof flags["allow-endpoint"] === "string" ? [flags["allow-endpoint"]] : [];
    const client = await run(
      "credential configuration",
      async () =>
        config !== undefined
          ? gcp.fromCredentialConfig(config, { allowEndpoints, shareCache: false })
          : from === "aws"
            ? new gcp.AwsWorkloadClient({ audience: required(flags, "audience", "the pool provider"), ...(flag(flags, "service-account") ? { serviceAccount: flag(flags, "service-account") as string } : {}), ...(flag(flags, "token-url") ? { tokenUrl: flag(flags, "token-url") as string } : {}), ...(flag(flags, "impersonation-url") ? { serviceAccountImpersonationUrl: flag(flags, "impersonation-url") as string } : {}), shareCache: false })
            : new gcp.AzureWorkloadClient({ audience: required(flags, "audience", "the pool provider"), resource: required(flags, "resource", "the App ID URI"), ...(flag(flags, "service-account") ? { serviceAccount: flag(flags, "service-account") as string } : {}), ...(flag(flags, "token-url") ? { tokenUrl: flag(flags, "token-url") as string } : {}), ...(flag(flags, "impersonation-url") ? { serviceAccountImpersonationUrl: flag(flags, "impersonation-url") as string } : {}), shareCache: false }),
      (c) => ({ client: c.constructor.name }),
    );
    if (client !== undefined) {
      await run("Google STS exchange and impersonation", () => client.getAccessToken(), () => ({ token: "obtained" }));
      const failed = steps.at(-1);
      if (failed && !failed.ok && failed.error?.hint) requirements[direction] = [failed.error.hint];
    }
  } else if (to === "azure") {
    const tenantId = flag(flags, "tenant-id") ?? process.env["AZURE_TENANT_ID"] ?? required(flags, "tenant-id", "the Entra tenant");
    const clientId = flag(flags, "client-id") ?? process.env["AZURE_CLIENT_ID"] ?? required(flags, "client-id", "the application");
    const { tokenSourceFor } = await import("./sources.js");
    const source = await tokenSourceFor(from === "aws" ? "cognito" : from, { ...flags, audience: flag(flags, "audience") ?? "api://AzureADTokenExchange", "client-id": undefined });
    const assertion = await run(`${from === "aws" ? "Cognito developer identity token" : from === "gcp" ? "GCP metadata: Google ID token" : "token"}`, source, (t) => ({ claims: claimsOf(t) }));
    if (assertion !== undefined) {
      const claims: JwtClaims = decodeJwt(assertion);
      requirements[direction] = [`Application ${clientId} needs a federated identity credential with issuer "${String(claims.iss)}", subject "${String(claims.sub)}", audience "${String(Array.isArray(claims.aud) ? claims.aud[0] : claims.aud)}".`];
      const { exchangeAssertion } = await import("../azure/entra.js");
      const authorityHost = flag(flags, "authority-host") ?? process.env["AZURE_AUTHORITY_HOST"] ?? "https://login.microsoftonline.com";
      await run("Entra client credentials with the assertion", () => exchangeAssertion({ authorityHost, tenantId, clientId, scopes: [flag(flags, "scope") ?? "https://management.azure.com/.default"], assertion }, {}, Date.now), (t) => ({ expires: new Date(t.expiresAt).toISOString() }));
    }
  } else {
    throw new KeylessError("ERR_CONFIG", `--to must be aws, gcp or azure (got ${JSON.stringify(to)}).`, { step: "cli" });
  }
}

export function formatDoctor(report: DoctorReport): string {
  const lines: string[] = [];
  const env = report.environment;
  lines.push(`environment: GCP metadata ${env.gcp ? "yes" : "no"}; Azure managed identity ${env.azure || "no"}; AWS credentials ${env.aws || "no"}`);
  for (const s of report.steps) {
    lines.push(`${s.ok ? "✓" : "✗"} [${s.direction}] ${s.step} (${s.ms.toFixed(0)} ms)`);
    if (s.detail) lines.push(`    ${JSON.stringify(s.detail)}`);
    if (s.error) {
      lines.push(`    ${s.error.code}${s.error.upstreamCode ? ` (${s.error.upstreamCode})` : ""}: ${s.error.message}`);
      if (s.error.hint) lines.push(`    fix: ${s.error.hint}`);
    }
  }
  for (const [direction, needs] of Object.entries(report.requirements)) for (const n of needs) lines.push(`[${direction}] the other side must hold: ${n}`);
  const first = report.steps.find((s) => !s.ok);
  lines.push(first ? `FAILED at "${first.step}": ${first.error?.code}` : "all steps passed");
  return lines.join("\n");
}
