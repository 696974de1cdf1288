// The six directions, keyless beside the baseline a user would otherwise write, measured in one
// process on the emulated clouds with 20 ms per upstream request.
import { performance } from "node:perf_hooks";
import { request as httpRequest } from "node:http";
import { S3Client } from "@aws-sdk/client-s3";
import { fromWebToken } from "@aws-sdk/credential-providers";
import { ExternalAccountClient } from "google-auth-library";
import { ClientAssertionCredential } from "@azure/identity";
import * as aws from "../dist/aws.js";
import * as gcp from "../dist/gcp.js";
import * as azure from "../dist/azure.js";
import { cognitoDeveloperToken } from "../dist/index.js";
import { pct } from "./core.mjs";

// Time travel for the refresh-point measurement: `Date.now()` and `new Date()` shift together, so
// every library and emulator in the process sees the same jump (performance.now() does not).
const RealDate = Date;
let offsetMs = 0;
class ShiftedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + offsetMs);
    else super(...args);
  }
  static now() {
    return RealDate.now() + offsetMs;
  }
}
globalThis.Date = ShiftedDate;

function setEnv(vars) {
  const saved = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

function get(url, headers) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Longest chain of requests where each starts after the previous ended: the sequential round trips. */
function sequential(timeline) {
  const items = timeline.filter((t) => Number.isFinite(t.end)).sort((a, b) => a.end - b.end);
  const best = items.map(() => 1);
  for (let i = 0; i < items.length; i++) for (let j = 0; j < i; j++) if (items[j].end <= items[i].start + 0.5) best[i] = Math.max(best[i], best[j] + 1);
  return Math.max(0, ...best);
}

async function measure(clouds, name, make, call, { cachedBudgetMs = 1500, crossAtMs = 56 * 60_000 } = {}) {
  const inst = clouds.instrumentation;
  // Warm-up: the library imported and used once in this process.
  await call(make());
  // First credential of a fresh instance: the median of five.
  const firsts = [];
  let subject;
  let firstRequests = 0;
  let firstSequential = 0;
  let t;
  for (let i = 0; i < 5; i++) {
    inst.resetCounts();
    inst.timeline = [];
    subject = make();
    t = performance.now();
    await call(subject);
    firsts.push(performance.now() - t);
    firstRequests = inst.count();
    firstSequential = sequential(inst.timeline);
  }
  inst.timeline = undefined;
  const firstMs = pct(firsts, 50);
  // Cached calls.
  inst.resetCounts();
  let calls = 0;
  t = performance.now();
  while (performance.now() - t < cachedBudgetMs && calls < 200_000) {
    await call(subject);
    calls++;
  }
  const cachedNs = ((performance.now() - t) * 1e6) / calls;
  const perCached = inst.count() / calls;
  // 1,000 concurrent cold callers.
  const cold = make();
  inst.resetCounts();
  await Promise.all(Array.from({ length: 1000 }, () => call(cold)));
  const coldRequests = inst.count();
  // Heap growth over 100,000 calls (or as many as fit in 3 s).
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let heapPeak = heapBefore;
  let heapCalls = 0;
  t = performance.now();
  while (heapCalls < 100_000 && performance.now() - t < 3_000) {
    await call(subject);
    heapCalls++;
    if (heapCalls % 1000 === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  global.gc?.();
  const heapRetained = process.memoryUsage().heapUsed - heapBefore;
  // Crossing the refresh point: the whole process jumps to `crossAtMs` after the credential was issued.
  const fresh = make();
  await call(fresh);
  offsetMs += crossAtMs;
  const latencies = [];
  try {
    const until = performance.now() + 400;
    while (performance.now() < until || latencies.length < 20) {
      const s = performance.now();
      await call(fresh);
      latencies.push(performance.now() - s);
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    offsetMs -= crossAtMs;
  }
  return {
    name,
    firstMs,
    firstRequests,
    firstSequential,
    cachedNs,
    perCached,
    coldRequests,
    heapCalls,
    heapGrowthKiB: (heapPeak - heapBefore) / 1024,
    heapRetainedKiB: heapRetained / 1024,
    crossWorstMs: Math.max(...latencies),
    crossP50Ms: pct(latencies, 50),
  };
}

export async function directions(clouds, azuriteCa) {
  const results = [];
  const env = clouds.env;
  const awsOff = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_PROFILE: undefined, AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent" };
  const restoreBase = setEnv({ ...env, ...awsOff });
  const google = clouds.urls.google;
  const sa = clouds.scenario.google.serviceAccounts[0].email;
  const gcpUrls = { tokenUrl: `${google}/v1/token`, serviceAccountImpersonationUrl: `${google}/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`, projectId: "keyless-demo" };
  const metadataToken = (audience) => get(`http://${env.GCE_METADATA_HOST}/computeMetadata/v1/instance/service-accounts/default/identity?audience=${encodeURIComponent(audience)}&format=full`, { "metadata-flavor": "Google" });
  const azureImdsToken = async (resource) => JSON.parse(await get(`${env.AZURE_POD_IDENTITY_AUTHORITY_HOST}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(resource)}`, { metadata: "true" })).access_token;
  const s3Creds = (client) => client.config.credentials();
  const diyWebToken = (roleArn, token) => async () => fromWebToken({ roleArn, roleSessionName: "diy", webIdentityToken: await token(), clientConfig: { region: "us-east-1" } })();
  const tenantId = clouds.scenario.azure.tenantId;
  const clientId = clouds.scenario.entra.applications[0].clientId;
  const pool = clouds.scenario.cognito.pools[0];
  const scope = "https://storage.azure.com/.default";
  const msal = (assertion) => new ClientAssertionCredential(tenantId, clientId, assertion, { authorityHost: clouds.urls.entra, disableInstanceDiscovery: true });

  const run = async (direction, envVars, keyless, baseline) => {
    const restore = setEnv(envVars);
    try {
      const k = await measure(clouds, "keyless", keyless.make, keyless.call);
      const b = await measure(clouds, baseline.name, baseline.make, baseline.call);
      results.push({ direction, keyless: k, baseline: b });
    } finally {
      restore();
    }
  };

  await run(
    "GCP → AWS",
    {},
    { make: () => new S3Client({ region: "us-east-1", credentials: aws.fromGcpWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-gcp", shareCache: false }) }), call: s3Creds },
    { name: "fromWebToken + metadata token, via S3Client", make: () => new S3Client({ region: "us-east-1", credentials: diyWebToken("arn:aws:iam::111122223333:role/keyless-from-gcp", () => metadataToken("sts.amazonaws.com")) }), call: s3Creds },
  );
  await run(
    "Azure → AWS",
    {},
    { make: () => new S3Client({ region: "us-east-1", credentials: aws.fromAzureWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-azure", resource: "api://keyless-aws", shareCache: false }) }), call: s3Creds },
    { name: "fromWebToken + IMDS token, via S3Client", make: () => new S3Client({ region: "us-east-1", credentials: diyWebToken("arn:aws:iam::111122223333:role/keyless-from-azure", () => azureImdsToken("api://keyless-aws")) }), call: s3Creds },
  );
  const awsConfig = clouds.gcpCredentialConfig("aws");
  await run(
    "AWS → GCP (EC2 IMDSv2)",
    { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined },
    { make: () => new gcp.AwsWorkloadClient({ audience: awsConfig.audience, ...gcpUrls, shareCache: false }), call: (c) => c.getAccessToken() },
    { name: "google-auth-library ExternalAccountClient.fromJSON", make: () => ExternalAccountClient.fromJSON(awsConfig), call: (c) => c.getAccessToken() },
  );
  const lambda = clouds.lambdaEnv();
  await run(
    "AWS → GCP (Lambda environment)",
    lambda,
    { make: () => new gcp.AwsWorkloadClient({ audience: awsConfig.audience, ...gcpUrls, shareCache: false }), call: (c) => c.getAccessToken() },
    { name: "google-auth-library ExternalAccountClient.fromJSON", make: () => ExternalAccountClient.fromJSON(awsConfig), call: (c) => c.getAccessToken() },
  );
  const azureConfig = clouds.gcpCredentialConfig("azure");
  await run(
    "Azure → GCP",
    {},
    { make: () => new gcp.AzureWorkloadClient({ audience: azureConfig.audience, resource: "api://keyless-gcp", ...gcpUrls, shareCache: false }), call: (c) => c.getAccessToken() },
    { name: "google-auth-library IdentityPoolClient (url-sourced)", make: () => ExternalAccountClient.fromJSON(azureConfig), call: (c) => c.getAccessToken() },
  );
  await run(
    "GCP → Azure",
    {},
    { make: () => azure.fromGcpWorkload({ tenantId, clientId, shareCache: false, ca: azuriteCa }), call: (c) => c.getToken(scope) },
    { name: "@azure/identity ClientAssertionCredential", make: () => msal(() => metadataToken("api://AzureADTokenExchange")), call: (c) => c.getToken(scope) },
  );
  await run(
    "AWS → Azure (Lambda environment)",
    lambda,
    { make: () => azure.fromAwsWorkload({ tenantId, clientId, identityPoolId: pool.identityPoolId, developerProviderName: pool.developerProviderName, shareCache: false }), call: (c) => c.getToken(scope) },
    {
      name: "@azure/identity ClientAssertionCredential",
      make: () => {
        const source = cognitoDeveloperToken({ identityPoolId: pool.identityPoolId, developerProviderName: pool.developerProviderName, developerUserId: "keyless-workload" });
        return msal(async () => source());
      },
      call: (c) => c.getToken(scope),
    },
  );
  restoreBase();
  return results;
}
