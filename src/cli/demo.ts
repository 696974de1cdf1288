/**
 * @module cli/demo
 * `keyless demo`: starts the emulated clouds and azurite, then runs all six directions end to end
 * with the real vendor SDK clients, printing each step, its time and a final table.
 */
import { performance } from "node:perf_hooks";
import { tmpdir } from "node:os";
import { join } from "node:path";

interface Row {
  direction: string;
  client: string;
  upstream: string;
  ms: number;
  ok: boolean;
  note: string;
}

type Write = (line: string) => void;

function withEnv<T>(vars: Record<string, string | undefined>, run: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return run().finally(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

/** Where the demo keeps its throwaway certificate (reused between runs). */
export function demoTlsDir(): string {
  return join(tmpdir(), "keyless-demo-tls");
}

export async function runDemo(write: Write = (l) => process.stdout.write(`${l}\n`), progress: Write = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const testing = await import("../testing/index.js");
  const tls = testing.createTestCertificate(demoTlsDir());
  progress("starting the emulated clouds and azurite …");
  const [clouds, azurite] = await Promise.all([testing.startEmulatedClouds({ tls }), testing.startAzurite({ tls, onProgress: progress })]);
  const env = clouds.env;
  const lambda = clouds.lambdaEnv();
  const rows: Row[] = [];
  const awsSourceOff = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_PROFILE: undefined, AWS_CONFIG_FILE: join(tmpdir(), "keyless-demo-no-aws-config"), AWS_SHARED_CREDENTIALS_FILE: join(tmpdir(), "keyless-demo-no-aws-credentials") };
  try {
    write("keyless demo: six directions on emulated AWS, Google Cloud and Azure identity planes (loopback only)\n");
    const [{ S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand }, { Storage }, { BigQuery }, { BlobServiceClient }] = await Promise.all([
      import("@aws-sdk/client-s3"),
      import("@google-cloud/storage"),
      import("@google-cloud/bigquery"),
      import("@azure/storage-blob"),
    ]);
    const aws = await import("../aws/index.js");
    const gcp = await import("../gcp/index.js");
    const azure = await import("../azure/index.js");
    const google = clouds.urls.google;
    const target = clouds.scenario.google.serviceAccounts[0]?.email ?? "";
    const gcpUrls = { tokenUrl: `${google}/v1/token`, serviceAccountImpersonationUrl: `${google}/v1/projects/-/serviceAccounts/${target}:generateAccessToken`, projectId: clouds.scenario.gcp.projectId };
    const entraIds = { tenantId: clouds.scenario.azure.tenantId, clientId: clouds.scenario.entra.applications[0]?.clientId ?? "", ca: tls.ca };
    const pool = clouds.scenario.cognito.pools[0];

    const s3RoundTrip = async (credentials: ReturnType<typeof aws.fromWebIdentity>, bucket: string) => {
      const s3 = new S3Client({ region: "us-east-1", endpoint: clouds.urls.s3, forcePathStyle: true, credentials });
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "hello.txt", Body: "hello from keyless" }));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "hello.txt" }));
      return `S3 put+get: "${(await got.Body?.transformToString()) ?? ""}"`;
    };
    const googleRoundTrip = async (authClient: InstanceType<typeof gcp.KeylessAuthClient>) => {
      const storage = new Storage({ authClient, apiEndpoint: google, useAuthWithCustomEndpoint: true, projectId: gcpUrls.projectId });
      const [files] = await storage.bucket("keyless-demo-bucket").getFiles();
      const bigquery = new BigQuery({ authClient, apiEndpoint: google, projectId: gcpUrls.projectId });
      const [rows] = await bigquery.query("SELECT 42 AS answer");
      return `GCS list: [${files.map((f) => f.name).join(", ")}]; BigQuery as ${String((rows[0] as { principal?: unknown } | undefined)?.principal)}`;
    };
    const blobRoundTrip = async (credential: InstanceType<typeof azure.FederatedCredential>, container: string) => {
      const service = new BlobServiceClient(azurite.blobUrl, credential);
      const c = service.getContainerClient(container);
      await c.create();
      await c.getBlockBlobClient("hello.txt").upload("hello from keyless", 18);
      return `Blob create+upload+download: "${(await c.getBlockBlobClient("hello.txt").downloadToBuffer()).toString()}"`;
    };

    const directions: Array<{ direction: string; client: string; env: Record<string, string | undefined>; run: () => Promise<string> }> = [
      { direction: "GCP → AWS", client: "S3Client", env: {}, run: () => s3RoundTrip(aws.fromGcpWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-gcp" }), "demo-from-gcp") },
      { direction: "Azure → AWS", client: "S3Client", env: {}, run: () => s3RoundTrip(aws.fromAzureWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-azure", resource: "api://keyless-aws" }), "demo-from-azure") },
      { direction: "AWS → GCP", client: "Storage, BigQuery", env: { ...awsSourceOff, AWS_REGION: undefined }, run: () => googleRoundTrip(new gcp.AwsWorkloadClient({ audience: clouds.scenario.google.pools[0]?.audience ?? "", ...gcpUrls })) },
      { direction: "Azure → GCP", client: "Storage, BigQuery", env: clouds.appServiceEnv, run: () => googleRoundTrip(new gcp.AzureWorkloadClient({ audience: clouds.scenario.google.pools[1]?.audience ?? "", resource: "api://keyless-gcp", ...gcpUrls })) },
      { direction: "GCP → Azure", client: "BlobServiceClient", env: {}, run: () => blobRoundTrip(azure.fromGcpWorkload(entraIds), "demo-from-gcp") },
      { direction: "AWS → Azure", client: "BlobServiceClient", env: { ...awsSourceOff, ...lambda }, run: () => blobRoundTrip(azure.fromAwsWorkload({ ...entraIds, identityPoolId: pool?.identityPoolId ?? "", developerProviderName: pool?.developerProviderName ?? "" }), "demo-from-aws") },
    ];
    const sourceName: Record<string, string> = { "AWS → GCP": "EC2 IMDSv2", "Azure → GCP": "App Service identity endpoint", "GCP → AWS": "GCE metadata", "Azure → AWS": "Azure VM IMDS", "GCP → Azure": "GCE metadata", "AWS → Azure": "Lambda environment" };
    for (const d of directions) {
      clouds.instrumentation.resetCounts();
      const started = performance.now();
      try {
        const note = await withEnv({ ...env, ...d.env }, d.run);
        const ms = performance.now() - started;
        const upstream = Object.entries(clouds.instrumentation.counts())
          .filter(([k]) => !k.startsWith("aws.s3.") && !k.startsWith("google.storage") && !k.startsWith("google.bigquery"))
          .map(([k, n]) => `${k}×${n}`)
          .join(" → ");
        rows.push({ direction: `${d.direction} (${sourceName[d.direction]})`, client: d.client, upstream, ms, ok: true, note });
        write(`✓ ${d.direction} from ${sourceName[d.direction]} with ${d.client}: ${upstream} (${ms.toFixed(0)} ms)\n    ${note}`);
      } catch (error) {
        const ms = performance.now() - started;
        rows.push({ direction: d.direction, client: d.client, upstream: "", ms, ok: false, note: error instanceof Error ? error.message : String(error) });
        write(`✗ ${d.direction}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    write("\n| direction | SDK client | identity-plane requests | time | result |\n|---|---|---|---|---|");
    for (const r of rows) write(`| ${r.direction} | ${r.client} | ${r.upstream} | ${r.ms.toFixed(0)} ms | ${r.ok ? "ok" : `FAILED: ${r.note}`} |`);
    const failed = rows.filter((r) => !r.ok).length;
    write(`\n${rows.length - failed} of ${rows.length} directions working.`);
    return failed === 0 ? 0 : 1;
  } finally {
    await Promise.all([clouds.close(), azurite.close()]);
  }
}
