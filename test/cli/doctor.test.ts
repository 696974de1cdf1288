import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromGcpWorkload as awsFromGcp, fromAzureWorkload as awsFromAzure } from "../../src/aws/index.js";
import { AwsWorkloadClient, fromCredentialConfig } from "../../src/gcp/index.js";
import { fromGcpWorkload as azureFromGcp } from "../../src/azure/index.js";
import { defaultScenario } from "../../src/testing/index.js";
import { useEmulatedClouds } from "../clouds.js";
import type { DoctorReport } from "../../src/cli/doctor.js";
import { runCli, testCertificate } from "../helpers.js";
import { withEnv } from "../env.js";

// One broken setup per failure mode of docs/troubleshooting.md; each must be named by the library error and by `keyless doctor`.
const base = defaultScenario();
const WRONG_AUD_ROLE = "arn:aws:iam::111122223333:role/wrong-aud";
const WRONG_SUB_ROLE = "arn:aws:iam::111122223333:role/wrong-sub";
const UNBOUND = "unbound@keyless-demo.iam.gserviceaccount.com";
const tenant = base.azure.tenantId;
const azureProvider = `sts.windows.net/${tenant}/`;
const BROKEN_APP = "11111111-2222-4333-8444-555555555555";

const dir = mkdtempSync(join(tmpdir(), "keyless-doctor-"));
const ctx = useEmulatedClouds({
    tls: testCertificate(),
    scenario: {
      aws: {
        ...base.aws,
        roles: [
          ...base.aws.roles,
          // The classic mistake: comparing accounts.google.com:aud with the token's aud.
          { arn: WRONG_AUD_ROLE, trust: [{ provider: "accounts.google.com", conditions: { "accounts.google.com:aud": "sts.amazonaws.com" } }] },
          { arn: WRONG_SUB_ROLE, trust: [{ provider: azureProvider, conditions: { [`${azureProvider}:aud`]: "api://keyless-aws", [`${azureProvider}:sub`]: "someone-else" } }] },
        ],
      },
      google: { ...base.google, serviceAccounts: [...base.google.serviceAccounts, { email: UNBOUND, uniqueId: "2", workloadIdentityUsers: [] }] },
      entra: { applications: [...base.entra.applications, { clientId: BROKEN_APP, objectId: "o", federatedCredentials: [{ issuer: "https://accounts.google.com", subject: "000000000000000000000", audiences: ["api://AzureADTokenExchange"] }] }] },
    },
  }, (c) => ({ ...c.env, AWS_CONFIG_FILE: join(dir, "none"), AWS_SHARED_CREDENTIALS_FILE: join(dir, "none"), AWS_ROLE_ARN: undefined, GOOGLE_APPLICATION_CREDENTIALS: undefined, AZURE_CLIENT_ID: undefined }));

async function doctor(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; report: DoctorReport; stderr: string; stdout: string }> {
  const r = await runCli(["doctor", "--json", ...args], env);
  return { ...r, report: r.stdout ? (JSON.parse(r.stdout) as DoctorReport) : ({} as DoctorReport) };
}
const firstFailure = (r: DoctorReport) => r.steps.find((s) => !s.ok);
const fast = { retry: { baseMs: 1, capMs: 5 }, cooldownMs: 0, shareCache: false } as const;
const failure = (p: Promise<unknown>) => p.then(() => expect.fail("expected a failure"), (e: { code: string; hint?: string; upstreamCode?: string }) => e);

describe("each broken setup is named by the library error and by keyless doctor", () => {
  it("a healthy direction passes, with timings and decoded claims", async () => {
    const { code, report } = await doctor(["--to", "aws", "--role-arn", "arn:aws:iam::111122223333:role/keyless-from-gcp"]);
    expect(code).toBe(0);
    expect(report.environment.gcp).toBe(true);
    expect(report.steps.map((s) => s.ok)).toEqual([true, true]);
    expect(report.steps[0]?.detail).toMatchObject({ claims: { iss: "https://accounts.google.com", azp: base.gcp.serviceAccountUniqueId } });
  });

  it("Google aud/azp condition mismatch", async () => {
    const lib = await failure(awsFromGcp({ roleArn: WRONG_AUD_ROLE, region: "us-east-1", ...fast })());
    expect(lib.code).toBe("ERR_STS_ACCESS_DENIED");
    const { code, report } = await doctor(["--to", "aws", "--from", "gcp", "--role-arn", WRONG_AUD_ROLE]);
    expect(code).toBe(1);
    expect(firstFailure(report)?.error?.code).toBe("ERR_STS_ACCESS_DENIED");
    expect(report.requirements["gcp → aws"]?.[0]).toContain(`"accounts.google.com:aud" = "${base.gcp.serviceAccountUniqueId}"`);
  });

  it("wrong subject", async () => {
    const lib = await failure(awsFromAzure({ roleArn: WRONG_SUB_ROLE, resource: "api://keyless-aws", region: "us-east-1", ...fast })());
    expect(lib.code).toBe("ERR_STS_ACCESS_DENIED");
    expect(lib.hint).toContain(`"${azureProvider}:sub" = "${base.azure.managedIdentity.objectId}"`);
    const { code, report } = await doctor(["--to", "aws", "--from", "azure", "--resource", "api://keyless-aws", "--role-arn", WRONG_SUB_ROLE]);
    expect(code).toBe(1);
    expect(firstFailure(report)?.error?.hint).toContain(base.azure.managedIdentity.objectId);
  });

  it("missing principal binding (roles/iam.workloadIdentityUser)", async () => {
    const restore = withEnv(ctx.clouds.lambdaEnv());
    try {
      const urls = { tokenUrl: `${ctx.clouds.urls.google}/v1/token`, serviceAccountImpersonationUrl: `${ctx.clouds.urls.google}/v1/projects/-/serviceAccounts/${UNBOUND}:generateAccessToken` };
      const lib = await failure(new AwsWorkloadClient({ audience: base.google.pools[0]!.audience, ...urls, ...fast }).getAccessToken());
      expect(lib.code).toBe("ERR_IMPERSONATION_DENIED");
      const { code, report } = await doctor(["--to", "gcp", "--from", "aws", "--audience", base.google.pools[0]!.audience, "--token-url", urls.tokenUrl, "--impersonation-url", urls.serviceAccountImpersonationUrl]);
      expect(code).toBe(1);
      expect(firstFailure(report)?.error?.code).toBe("ERR_IMPERSONATION_DENIED");
      expect(firstFailure(report)?.error?.hint).toContain("attribute.aws_role/arn:aws:sts::111122223333:assumed-role/keyless-workload");
    } finally {
      restore();
    }
  });

  it("no matching federated credential", async () => {
    const lib = await failure(azureFromGcp({ tenantId: tenant, clientId: BROKEN_APP, ...fast }).getToken("https://storage.azure.com/.default"));
    expect(lib.upstreamCode).toBe("AADSTS700213");
    const { code, report } = await doctor(["--to", "azure", "--from", "gcp", "--tenant-id", tenant, "--client-id", BROKEN_APP]);
    expect(code).toBe(1);
    expect(firstFailure(report)?.error?.upstreamCode).toBe("AADSTS700213");
    expect(report.requirements["gcp → azure"]?.[0]).toContain(`subject "${base.gcp.serviceAccountUniqueId}"`);
  });

  it("assertion expired (or clock skew): AADSTS700024", async () => {
    const body = JSON.stringify({ error: "invalid_client", error_description: "AADSTS700024: Client assertion is not within its valid time range.", error_codes: [700024] });
    ctx.clouds.instrumentation.inject("azure.entra.token", { status: 400, body, times: 2 });
    const lib = await failure(azureFromGcp({ tenantId: tenant, clientId: base.entra.applications[0]!.clientId, ...fast }).getToken("https://storage.azure.com/.default"));
    expect(lib.upstreamCode).toBe("AADSTS700024");
    expect(lib.hint).toContain("clock");
    ctx.clouds.instrumentation.inject("azure.entra.token", { status: 400, body, times: 1 });
    const { code, report } = await doctor(["--to", "azure", "--from", "gcp", "--tenant-id", tenant, "--client-id", base.entra.applications[0]!.clientId]);
    expect(code).toBe(1);
    expect(firstFailure(report)?.error?.hint).toContain("clock");
  });

  it("no region found", async () => {
    const env = { ...ctx.clouds.lambdaEnv(), AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://127.0.0.1:9" };
    const restore = withEnv(env);
    try {
      const lib = await failure(new AwsWorkloadClient({ audience: base.google.pools[0]!.audience, tokenUrl: `${ctx.clouds.urls.google}/v1/token`, ...fast, connectTimeoutMs: 200 }).getAccessToken());
      expect(lib.code).toBe("ERR_NO_REGION");
      const { code, report } = await doctor(["--to", "gcp", "--from", "aws", "--audience", base.google.pools[0]!.audience, "--token-url", `${ctx.clouds.urls.google}/v1/token`], env);
      expect(code).toBe(1);
      expect(firstFailure(report)?.error?.code).toBe("ERR_NO_REGION");
      expect(firstFailure(report)?.error?.hint).toContain("AWS_REGION");
    } finally {
      restore();
    }
  });

  it("IMDSv2 hop limit (the session-token PUT never answers from a container)", async () => {
    ctx.clouds.instrumentation.inject("aws.imds.token", { hang: true, times: Infinity });
    const restore = withEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_REGION: "us-east-1" });
    try {
      const lib = await failure(new AwsWorkloadClient({ audience: base.google.pools[0]!.audience, tokenUrl: `${ctx.clouds.urls.google}/v1/token`, ...fast, timeoutMs: 1_000 }).getAccessToken());
      expect(lib.code).toBe("ERR_AWS_CREDENTIALS");
      expect(lib.hint).toContain("hop limit");
    } finally {
      restore();
      ctx.clouds.instrumentation.clearFaults();
    }
  }, 30_000);

  it("untrusted endpoint in a config file", async () => {
    const path = join(dir, "hostile.json");
    writeFileSync(path, JSON.stringify({ ...ctx.clouds.gcpCredentialConfig("aws"), token_url: "https://collector.attacker.example/v1/token" }));
    expect(() => fromCredentialConfig(path)).toThrow(expect.objectContaining({ code: "ERR_ENDPOINT_NOT_ALLOWED" }));
    const { code, report } = await doctor(["--to", "gcp", "--from", "aws", "--config", path]);
    expect(code).toBe(1);
    expect(firstFailure(report)?.step).toBe("credential configuration");
    expect(firstFailure(report)?.error?.code).toBe("ERR_ENDPOINT_NOT_ALLOWED");
  });

  it("without --to, walks every direction the environment configures", async () => {
    const { code, report } = await doctor(["--from", "gcp"], { AWS_ROLE_ARN: "arn:aws:iam::111122223333:role/keyless-from-gcp", AZURE_CLIENT_ID: base.entra.applications[0]!.clientId, AZURE_TENANT_ID: tenant });
    expect(code).toBe(0);
    expect(new Set(report.steps.map((s) => s.direction))).toEqual(new Set(["gcp → aws", "gcp → azure"]));
    expect(report.steps.every((s) => s.ok)).toBe(true);
  });

  it("nothing configured is a usage error (exit 2)", async () => {
    const { code, stderr } = await doctor([]);
    expect(code).toBe(2);
    expect(stderr).toContain("Nothing to check");
  });
});
