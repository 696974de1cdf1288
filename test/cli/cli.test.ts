import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { fromProcess, fromTokenFile } from "@aws-sdk/credential-providers";
import { ExternalAccountClient } from "google-auth-library";
import { fromWebIdentity } from "../../src/aws/index.js";
import { defaultScenario } from "../../src/testing/index.js";
import { useEmulatedClouds } from "../clouds.js";
import { distPath, runCli, testCertificate } from "../helpers.js";
import { withEnv } from "../env.js";

// Azure tokens that live 6 s, so the token file rotates within the test.
const dir = mkdtempSync(join(tmpdir(), "keyless-cli-"));
const ctx = useEmulatedClouds({ tls: testCertificate(), scenario: { azure: { ...defaultScenario().azure, tokenLifetimeSeconds: 6 } } }, (c) => ({ ...c.env, KEYLESS_CACHE_DIR: join(dir, "cache"), AWS_SHARED_CREDENTIALS_FILE: join(dir, "none"), AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined }));

function injectMetadataOutage(): void {
  ctx.clouds.instrumentation.inject("gcp.metadata.identity", { status: 503, body: "", headers: { "metadata-flavor": "Google" } });
}

const run = runCli;
const cli = () => distPath("cli.js");

describe("keyless aws credential-process", () => {
  it("is consumed by fromProcess and used by S3Client; a warm invocation makes no network call", async () => {
    const config = join(dir, "aws-config");
    writeFileSync(config, `[profile keyless]\ncredential_process = "${process.execPath}" "${cli()}" aws credential-process --from gcp --role-arn arn:aws:iam::111122223333:role/keyless-from-gcp --region us-east-1\n`);
    const restore = withEnv({ AWS_CONFIG_FILE: config });
    try {
      const s3 = new S3Client({ region: "us-east-1", endpoint: ctx.clouds.urls.s3, forcePathStyle: true, credentials: fromProcess({ profile: "keyless" }) });
      await s3.send(new CreateBucketCommand({ Bucket: "via-credential-process" }));
      await s3.send(new PutObjectCommand({ Bucket: "via-credential-process", Key: "k", Body: "v" }));
      expect(await (await s3.send(new GetObjectCommand({ Bucket: "via-credential-process", Key: "k" }))).Body?.transformToString()).toBe("v");
      expect(ctx.clouds.instrumentation.count("aws.sts.AssumeRoleWithWebIdentity")).toBe(1);
      // A second process (as every `aws` command is) reuses the cached credentials.
      const again = await fromProcess({ profile: "keyless" })();
      expect(again.accessKeyId).toMatch(/^ASIA/);
      expect(ctx.clouds.instrumentation.count("aws.sts.AssumeRoleWithWebIdentity")).toBe(1);
      expect(ctx.clouds.instrumentation.count("gcp.metadata.identity")).toBe(1);
      const files = readdirSync(join(dir, "cache"));
      expect(files).toHaveLength(1);
      expect(statSync(join(dir, "cache", files[0]!)).mode & 0o777).toBe(0o600);
    } finally {
      restore();
    }
  });

  it("prints the Version 1 JSON and exits 1 with a typed error (no secret) when STS refuses", async () => {
    const ok = await run(["aws", "credential-process", "--from", "gcp", "--role-arn", "arn:aws:iam::111122223333:role/keyless-from-gcp", "--no-cache"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ Version: 1, AccessKeyId: expect.stringMatching(/^ASIA/), SecretAccessKey: expect.any(String), SessionToken: expect.any(String), Expiration: expect.any(String) });
    const denied = await run(["aws", "credential-process", "--from", "gcp", "--role-arn", "arn:aws:iam::111122223333:role/keyless-from-azure", "--no-cache"]);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toBe("");
    expect(denied.stderr).toContain("ERR_STS_ACCESS_DENIED");
    for (const secret of ctx.clouds.secrets()) expect(denied.stderr).not.toContain(secret);
  });

  it("shows retries on stderr while it waits", async () => {
    injectMetadataOutage();
    const out = await run(["aws", "credential-process", "--from", "gcp", "--role-arn", "arn:aws:iam::111122223333:role/keyless-from-gcp", "--no-cache"]);
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/keyless: gcp-metadata failed \(ERR_TOKEN_SOURCE\); retrying in \d+ ms/);
  });

  it("usage errors exit 2", async () => {
    expect((await run(["aws", "credential-process"])).code).toBe(2);
    expect((await run(["no-such-command"])).code).toBe(2);
    expect((await run(["--bogus-flag"])).code).toBe(2);
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("credential-process");
  });
});

describe("keyless gcp executable", () => {
  it("is consumed by google-auth-library's PluggableAuthClient (executable-sourced config)", async () => {
    const restore = withEnv({ GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES: "1", ...ctx.clouds.appServiceEnv });
    try {
      const base = ctx.clouds.gcpCredentialConfig("azure");
      const config = { ...base, credential_source: { executable: { command: `${process.execPath} ${cli()} gcp executable --from azure --resource api://keyless-gcp`, timeout_millis: 30_000 } } };
      const client = ExternalAccountClient.fromJSON(config as never);
      const { token } = await client!.getAccessToken();
      expect(ctx.clouds.googleTokens.get(token!)?.principal).toBe("keyless-target@keyless-demo.iam.gserviceaccount.com");
      expect(ctx.clouds.instrumentation.count("azure.appservice.token")).toBe(1);
    } finally {
      restore();
    }
  });

  it("answers the protocol's error form when the source fails", async () => {
    const out = await run(["gcp", "executable", "--from", "azure", "--resource", "api://keyless-gcp"], { AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://127.0.0.1:9" });
    expect(out.code).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({ version: 1, success: false, code: "ERR_HTTP_CONNECTION" });
  });
});

describe("keyless token-file", () => {
  it("keeps the file fresh across a rotation, for fromTokenFile and keyless's own file source, and stops on SIGTERM", async () => {
    const out = join(dir, "token.jwt");
    const child = spawn(process.execPath, [cli(), "token-file", "--from", "azure", "--resource", "api://keyless-aws", "--out", out], { env: process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const waitFor = async (predicate: () => boolean, ms: number) => {
      const until = Date.now() + ms;
      while (!predicate()) {
        if (Date.now() > until) throw new Error(`timed out; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await waitFor(() => existsSync(out), 10_000);
    const first = readFileSync(out, "utf8");
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const roleArn = "arn:aws:iam::111122223333:role/keyless-from-azure";
    const viaSdk = await fromTokenFile({ webIdentityTokenFile: out, roleArn, roleSessionName: "sdk", clientConfig: { region: "us-east-1" } })();
    expect(viaSdk.accessKeyId).toMatch(/^ASIA/);
    await waitFor(() => readFileSync(out, "utf8") !== first, 10_000);
    const viaKeyless = await fromWebIdentity({ roleArn, token: out, region: "us-east-1", shareCache: false })();
    expect(viaKeyless.accessKeyId).toMatch(/^ASIA/);
    const viaSdkAfter = await fromTokenFile({ webIdentityTokenFile: out, roleArn, roleSessionName: "sdk", clientConfig: { region: "us-east-1" } })();
    expect(viaSdkAfter.accessKeyId).not.toBe(viaSdk.accessKeyId);
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(stderr).toContain("stopped");
    for (const secret of ctx.clouds.secrets()) expect(stderr).not.toContain(secret);
  }, 30_000);
});
