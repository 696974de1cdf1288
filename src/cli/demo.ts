/**
 * @module cli/demo
 * `keyless demo`: starts the emulated clouds and runs every direction built so far end to end
 * with the real vendor SDK clients, printing each step, its time and a final table.
 */
import { performance } from "node:perf_hooks";

interface Row {
  direction: string;
  steps: string;
  ms: number;
  ok: boolean;
  note: string;
}

export async function runDemo(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const { startEmulatedClouds } = await import("../testing/index.js");
  const clouds = await startEmulatedClouds();
  const saved = { ...process.env };
  Object.assign(process.env, clouds.env);
  const rows: Row[] = [];
  try {
    write("keyless demo: emulated AWS, Google Cloud and Azure identity planes on loopback\n");
    const { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } = await import("@aws-sdk/client-s3");
    const aws = await import("../aws/index.js");
    const directions: Array<{ direction: string; env?: Record<string, string>; credentials: () => ReturnType<typeof aws.fromGcpWorkload> }> = [
      { direction: "GCP → AWS (GCE metadata → STS → S3)", credentials: () => aws.fromGcpWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-gcp" }) },
      { direction: "Azure → AWS (VM IMDS → STS → S3)", credentials: () => aws.fromAzureWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-azure", resource: "api://keyless-aws" }) },
      { direction: "Azure → AWS (App Service → STS → S3)", env: clouds.appServiceEnv, credentials: () => aws.fromAzureWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-azure", resource: "api://keyless-aws" }) },
    ];
    for (const [i, d] of directions.entries()) {
      const before = { ...process.env };
      Object.assign(process.env, d.env ?? {});
      clouds.instrumentation.resetCounts();
      const started = performance.now();
      try {
        const s3 = new S3Client({ region: "us-east-1", endpoint: clouds.urls.s3, forcePathStyle: true, credentials: d.credentials() });
        const bucket = `demo-${i}`;
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "hello.txt", Body: `hello via ${d.direction}` }));
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "hello.txt" }));
        const text = (await got.Body?.transformToString()) ?? "";
        const counts = clouds.instrumentation.counts();
        const steps = Object.entries(counts).filter(([k]) => !k.startsWith("aws.s3.")).map(([k, n]) => `${k}×${n}`).join(", ");
        const ms = performance.now() - started;
        rows.push({ direction: d.direction, steps, ms, ok: true, note: `S3 object read back: "${text}"` });
        write(`✓ ${d.direction}: ${steps}; S3 put+get OK (${ms.toFixed(0)} ms)`);
      } catch (error) {
        const ms = performance.now() - started;
        rows.push({ direction: d.direction, steps: "", ms, ok: false, note: error instanceof Error ? error.message : String(error) });
        write(`✗ ${d.direction}: ${String(error)}`);
      } finally {
        for (const key of Object.keys(d.env ?? {})) {
          if (before[key] === undefined) delete process.env[key];
          else process.env[key] = before[key];
        }
      }
    }
    write("\n| direction | upstream steps | time | result |\n|---|---|---|---|");
    for (const r of rows) write(`| ${r.direction} | ${r.steps} | ${r.ms.toFixed(0)} ms | ${r.ok ? "ok" : "FAILED"}: ${r.note} |`);
    write("\nNot built yet: AWS → GCP, Azure → GCP (keyless/gcp), GCP → Azure, AWS → Azure (keyless/azure).");
    return rows.every((r) => r.ok) ? 0 : 1;
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await clouds.close();
  }
}
