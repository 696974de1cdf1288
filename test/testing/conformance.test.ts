import { describe, expect, it } from "vitest";
import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { CognitoIdentityClient, GetIdCommand, GetOpenIdTokenForDeveloperIdentityCommand } from "@aws-sdk/client-cognito-identity";
import { GetObjectCommand, PutObjectCommand, CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { ClientAssertionCredential } from "@azure/identity";
import { ExternalAccountClient } from "google-auth-library";
import { decodeJwt } from "../../src/core/jwt.js";
import { testCertificate } from "../helpers.js";
import { withEnv } from "../env.js";
import { useEmulatedClouds } from "../clouds.js";

const ctx = useEmulatedClouds({ tls: testCertificate() }, (c) => ({ ...c.env, AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent" }));

const GCP_ROLE = "arn:aws:iam::111122223333:role/keyless-from-gcp";
const anonymous = { accessKeyId: "", secretAccessKey: "" };
const sts = () => new STSClient({ region: "us-east-1", endpoint: ctx.clouds.urls.awsSts, maxAttempts: 1, credentials: anonymous });
const gcpId = () => ctx.clouds.scenario.gcp.serviceAccountUniqueId;
const googleToken = (claims: Record<string, unknown> = {}, lifetime?: number) => ctx.clouds.signAs("https://accounts.google.com", { aud: "sts.amazonaws.com", azp: gcpId(), sub: gcpId(), ...claims }, lifetime);
const assume = async (token: string, roleArn = GCP_ROLE) => sts().send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn, RoleSessionName: "conformance", WebIdentityToken: token }));
const stsError = (p: Promise<unknown>) => p.then(() => expect.fail("expected a rejection"), (e: { name: string; $metadata?: { httpStatusCode?: number } }) => ({ name: e.name, status: e.$metadata?.httpStatusCode }));

describe("emulated AWS STS, driven by @aws-sdk/client-sts", () => {
  it("accepts a Google ID token that meets the trust policy and answers the real XML", async () => {
    const out = await assume(await googleToken());
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA/);
    expect(out.AssumedRoleUser?.Arn).toBe("arn:aws:sts::111122223333:assumed-role/keyless-from-gcp/conformance");
    expect(out.SubjectFromWebIdentityToken).toBe(gcpId());
    expect(out.Provider).toBe("accounts.google.com");
  });

  it("maps Google's accounts.google.com:aud to azp, and :oaud to aud", async () => {
    // aud is not the service account id, but azp is: the role's :aud condition still matches.
    await expect(assume(await googleToken({ aud: "sts.amazonaws.com" }))).resolves.toBeDefined();
    expect(await stsError(assume(await googleToken({ azp: "someone-else" })))).toEqual({ name: "AccessDenied", status: 403 });
    expect(await stsError(assume(await googleToken({ aud: "other-audience" })))).toEqual({ name: "AccessDenied", status: 403 });
  });

  it("rejects a bad signature, an expired token, a wrong subject, an unknown role, an unknown issuer", async () => {
    const good = await googleToken();
    const [h, p] = good.split(".");
    const forged = `${h}.${p}.${Buffer.from("not the signature").toString("base64url")}`;
    expect((await stsError(assume(forged))).name).toBe("InvalidIdentityTokenException");
    expect((await stsError(assume(await googleToken({}, -60)))).name).toBe("ExpiredTokenException");
    expect((await stsError(assume(await googleToken({ sub: "000" }))))).toEqual({ name: "AccessDenied", status: 403 });
    expect((await stsError(assume(good, "arn:aws:iam::111122223333:role/nope")))).toEqual({ name: "AccessDenied", status: 403 });
    expect((await stsError(assume(await ctx.clouds.signAs("https://unknown.example.com", { aud: "sts.amazonaws.com", sub: "x" })))).name).toBe("InvalidIdentityTokenException");
  });

  it("checks the audience against the IAM OIDC provider's client ids (Azure issuer)", async () => {
    const tenant = ctx.clouds.scenario.azure.tenantId;
    const token = (aud: string) => ctx.clouds.signAs(`https://sts.windows.net/${tenant}/`, { aud, sub: ctx.clouds.scenario.azure.managedIdentity.objectId });
    await expect(assume(await token("api://keyless-aws"), "arn:aws:iam::111122223333:role/keyless-from-azure")).resolves.toBeDefined();
    expect((await stsError(assume(await token("api://other"), "arn:aws:iam::111122223333:role/keyless-from-azure"))).name).toBe("InvalidIdentityTokenException");
  });

  it("GetCallerIdentity verifies SigV4 with the issued keys", async () => {
    const out = await assume(await googleToken());
    const c = out.Credentials!;
    const signed = new STSClient({ region: "us-east-1", endpoint: ctx.clouds.urls.awsSts, maxAttempts: 1, credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! } });
    expect((await signed.send(new GetCallerIdentityCommand({}))).Arn).toBe(out.AssumedRoleUser?.Arn);
    const wrong = new STSClient({ region: "us-east-1", endpoint: ctx.clouds.urls.awsSts, maxAttempts: 1, credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: "wrong-secret-wrong-secret-wrong-secret-00", sessionToken: c.SessionToken! } });
    expect((await stsError(wrong.send(new GetCallerIdentityCommand({})))).name).toBe("SignatureDoesNotMatch");
  });
});

describe("emulated S3, driven by @aws-sdk/client-s3", () => {
  it("accepts requests signed with issued keys and rejects a wrong secret, an unknown key and expired keys", async () => {
    const c = (await assume(await googleToken())).Credentials!;
    const client = (secret: string, id = c.AccessKeyId!) => new S3Client({ region: "us-east-1", endpoint: ctx.clouds.urls.s3, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: id, secretAccessKey: secret, sessionToken: c.SessionToken! } });
    await client(c.SecretAccessKey!).send(new CreateBucketCommand({ Bucket: "conformance" }));
    await client(c.SecretAccessKey!).send(new PutObjectCommand({ Bucket: "conformance", Key: "k", Body: "v" }));
    expect(await (await client(c.SecretAccessKey!).send(new GetObjectCommand({ Bucket: "conformance", Key: "k" }))).Body?.transformToString()).toBe("v");
    expect((await stsError(client("x".repeat(40)).send(new GetObjectCommand({ Bucket: "conformance", Key: "k" })))).name).toBe("SignatureDoesNotMatch");
    expect((await stsError(client(c.SecretAccessKey!, "ASIAUNKNOWN000000000").send(new GetObjectCommand({ Bucket: "conformance", Key: "k" })))).name).toBe("InvalidAccessKeyId");
    const expired = ctx.clouds.awsKeys.issue("arn:aws:sts::111122223333:assumed-role/r/s", "111122223333", Date.now() - 1000);
    const old = new S3Client({ region: "us-east-1", endpoint: ctx.clouds.urls.s3, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: expired.accessKeyId, secretAccessKey: expired.secretAccessKey, sessionToken: expired.sessionToken! } });
    expect((await stsError(old.send(new GetObjectCommand({ Bucket: "conformance", Key: "k" })))).name).toBe("ExpiredToken");
  });
});

describe("emulated Cognito, driven by @aws-sdk/client-cognito-identity", () => {
  const pool = () => ctx.clouds.scenario.cognito.pools[0]!;
  it("GetOpenIdTokenForDeveloperIdentity needs a valid signature and the pool's developer provider", async () => {
    const env = ctx.clouds.lambdaEnv();
    const creds = { accessKeyId: env["AWS_ACCESS_KEY_ID"]!, secretAccessKey: env["AWS_SECRET_ACCESS_KEY"]!, sessionToken: env["AWS_SESSION_TOKEN"]! };
    const client = (c = creds) => new CognitoIdentityClient({ region: "us-east-1", endpoint: ctx.clouds.urls.cognito, maxAttempts: 1, credentials: c });
    const out = await client().send(new GetOpenIdTokenForDeveloperIdentityCommand({ IdentityPoolId: pool().identityPoolId, Logins: { [pool().developerProviderName]: "keyless-workload" } }));
    expect(decodeJwt(out.Token!)).toMatchObject({ iss: "https://cognito-identity.amazonaws.com", aud: pool().identityPoolId, sub: out.IdentityId });
    expect((await stsError(client({ ...creds, secretAccessKey: "y".repeat(40) }).send(new GetOpenIdTokenForDeveloperIdentityCommand({ IdentityPoolId: pool().identityPoolId, Logins: { [pool().developerProviderName]: "u" } })))).name).toBe("InvalidSignatureException");
    expect((await stsError(client().send(new GetOpenIdTokenForDeveloperIdentityCommand({ IdentityPoolId: pool().identityPoolId, Logins: { "wrong.provider": "u" } })))).name).toBe("NotAuthorizedException");
    expect((await stsError(client().send(new GetIdCommand({ IdentityPoolId: pool().identityPoolId })))).name).toBe("NotAuthorizedException");
  });
});

describe("emulated Entra, driven by @azure/identity's ClientAssertionCredential", () => {
  const app = () => ctx.clouds.scenario.entra.applications[0]!;
  const credential = (assertion: () => Promise<string>) =>
    new ClientAssertionCredential(ctx.clouds.scenario.azure.tenantId, app().clientId, assertion, { authorityHost: ctx.clouds.urls.entra, disableInstanceDiscovery: true });
  const azureToken = (claims: Record<string, unknown> = {}, lifetime?: number) => () => ctx.clouds.signAs("https://accounts.google.com", { aud: "api://AzureADTokenExchange", sub: gcpId(), ...claims }, lifetime);

  it("issues a token azurite would accept for a matching federated credential", async () => {
    const token = await credential(azureToken()).getToken("https://storage.azure.com/.default");
    expect(decodeJwt(token.token)).toMatchObject({ iss: `https://sts.windows.net/${ctx.clouds.scenario.azure.tenantId}/`, aud: "https://storage.azure.com", appid: app().clientId });
  });

  it.each([
    ["wrong subject", { sub: "1" }, "AADSTS700213"],
    ["wrong audience", { aud: "api://other" }, "AADSTS700212"],
  ])("rejects a %s with %s", async (_name, claims, code) => {
    await expect(credential(azureToken(claims)).getToken("https://storage.azure.com/.default")).rejects.toThrow(code);
  });

  it("rejects an expired assertion with AADSTS700024", async () => {
    await expect(credential(azureToken({}, -60)).getToken("https://storage.azure.com/.default")).rejects.toThrow("AADSTS700024");
  });
});

describe("emulated Google STS, driven by google-auth-library", () => {
  it("rejects an AWS subject token from another account and a missing binding", async () => {
    const restore = withEnv(ctx.clouds.lambdaEnv());
    try {
      const config = ctx.clouds.gcpCredentialConfig("aws") as Record<string, unknown>;
      const otherAudience = { ...config, audience: "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/keyless/providers/missing" };
      await expect(ExternalAccountClient.fromJSON(otherAudience as never)!.getAccessToken()).rejects.toThrow(/invalid_target/);
      const unbound = { ...config, service_account_impersonation_url: `${ctx.clouds.urls.google}/v1/projects/-/serviceAccounts/nobody@keyless-demo.iam.gserviceaccount.com:generateAccessToken` };
      await expect(ExternalAccountClient.fromJSON(unbound as never)!.getAccessToken()).rejects.toThrow(/iam.serviceAccounts.getAccessToken/);
    } finally {
      restore();
    }
  });
});

describe("the metadata servers' own rules", () => {
  it("GCP metadata refuses requests without Metadata-Flavor, and answers with it", async () => {
    const url = `http://${ctx.clouds.env.GCE_METADATA_HOST}/computeMetadata/v1/instance/service-accounts/default/identity?audience=x`;
    const { request } = await import("../../src/core/http.js");
    expect((await request({ url, step: "t" })).status).toBe(403);
    const ok = await request({ url, step: "t", headers: { "metadata-flavor": "Google" } });
    expect(ok.status).toBe(200);
    expect(ok.headers["metadata-flavor"]).toBe("Google");
  });

  it("IMDSv2 refuses credential reads without a session token", async () => {
    const { request } = await import("../../src/core/http.js");
    expect((await request({ url: `${ctx.clouds.urls.awsMetadata}/latest/meta-data/iam/security-credentials/`, step: "t" })).status).toBe(401);
  });

  it("Azure IMDS refuses requests without Metadata: true", async () => {
    const { request } = await import("../../src/core/http.js");
    expect((await request({ url: `${ctx.clouds.urls.azureMetadata}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x`, step: "t" })).status).toBe(400);
  });
});

describe("emulated IAM Credentials generateIdToken", () => {
  it("issues a Google ID token for a bound federated principal, and refuses without a bearer token", async () => {
    const restore = withEnv(ctx.clouds.lambdaEnv());
    try {
      const { AwsWorkloadClient } = await import("../../src/gcp/index.js");
      const federated = new AwsWorkloadClient({ audience: ctx.clouds.scenario.google.pools[0]!.audience, tokenUrl: `${ctx.clouds.urls.google}/v1/token`, shareCache: false });
      const { token } = await federated.getAccessToken();
      const { request } = await import("../../src/core/http.js");
      const sa = ctx.clouds.scenario.google.serviceAccounts[0]!;
      const url = `${ctx.clouds.urls.google}/v1/projects/-/serviceAccounts/${sa.email}:generateIdToken`;
      const ok = await request({ url, method: "POST", step: "t", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ audience: "https://example.com", includeEmail: true }) });
      expect(ok.status).toBe(200);
      expect(decodeJwt((JSON.parse(ok.body.toString()) as { token: string }).token)).toMatchObject({ iss: "https://accounts.google.com", aud: "https://example.com", sub: sa.uniqueId, email: sa.email });
      expect((await request({ url, method: "POST", step: "t", body: "{}" })).status).toBe(401);
    } finally {
      restore();
    }
  });
});

describe("the emulated clouds shut down cleanly", () => {
  it("leave no handle open: a process that starts and closes them exits by itself", async () => {
    const { spawnSync } = await import("node:child_process");
    const { distPath } = await import("../helpers.js");
    const code = `const { startEmulatedClouds } = await import(${JSON.stringify(distPath("testing.js"))}); const c = await startEmulatedClouds(); await fetchLike(c); await c.close(); console.log("closed");
      async function fetchLike(c) { const http = await import("node:http"); await new Promise((r) => http.get(c.urls.gcpMetadata + "/computeMetadata/v1/project/project-id", { headers: { "metadata-flavor": "Google" } }, (res) => { res.resume(); res.on("end", r); })); }`;
    const started = Date.now();
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8", timeout: 20_000 });
    expect(r.stdout.trim()).toBe("closed");
    expect(r.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe("KEYLESS_DEBUG", () => {
  it("prints refresh events to stderr, with no secret", async () => {
    const { spawn } = await import("node:child_process");
    const { distPath } = await import("../helpers.js");
    const code = `const { fromGcpWorkload } = await import(${JSON.stringify(distPath("aws.js"))}); const c = await fromGcpWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-gcp", region: "us-east-1" })(); console.log(c.accessKeyId);`;
    // Asynchronously: the emulators answer from this process.
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], { env: { ...process.env, KEYLESS_DEBUG: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    const r = { stderr: "", status: null as number | null };
    child.stderr.on("data", (d: Buffer) => (r.stderr += d.toString()));
    r.status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("keyless {"));
    expect(lines.map((l) => (JSON.parse(l.slice(8)) as { type: string }).type)).toEqual(["refresh-start", "refresh-success"]);
    for (const secret of ctx.clouds.secrets()) expect(r.stderr).not.toContain(secret);
  });
});
