import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Storage } from "@google-cloud/storage";
import { BlobServiceClient } from "@azure/storage-blob";
import { clearSharedCaches } from "../../src/core/refresh.js";
import { ManualClock, startAzurite, startEmulatedClouds, type EmulatedClouds, type RunningAzurite } from "../../src/testing/index.js";
import type { KeylessAuthClient } from "../../src/gcp/index.js";
import type { FederatedCredential } from "../../src/azure/index.js";
import type { KeylessAwsCredentialProvider } from "../../src/aws/index.js";
import { testCertificate } from "../helpers.js";
import { withEnv } from "../env.js";
import { DIRECTIONS } from "./directions.js";

const MIN = 60_000;
const IDENTITY_PLANE = ["gcp.metadata.", "aws.sts.", "aws.imds.", "aws.cognito.", "azure.imds.", "azure.appservice.", "azure.entra.", "google.sts.", "google.iam."];

describe("stale while error, end to end with the real SDK clients", () => {
  let clouds: EmulatedClouds;
  let azurite: RunningAzurite;
  let clock: ManualClock;
  let restoreEnv: () => void;
  beforeAll(async () => {
    clock = new ManualClock(Date.now());
    const tls = testCertificate();
    [clouds, azurite] = await Promise.all([startEmulatedClouds({ clock, tls }), startAzurite({ tls })]);
    restoreEnv = withEnv(clouds.env);
    clearSharedCaches();
  }, 90_000);
  afterAll(async () => {
    restoreEnv?.();
    await Promise.all([clouds?.close(), azurite?.close()]);
  });

  it.each(DIRECTIONS.map((d, i) => [d.name, i] as const))("%s: an outage of every identity endpoint for the rest of the credential's life is invisible", async (_name, index) => {
    const direction = DIRECTIONS[index]!;
    clouds.instrumentation.clearFaults();
    clock.set(Date.now()); // azurite checks token lifetimes on the real clock
    const { object } = direction.make(clouds, { clock, shareCache: false, retry: { baseMs: 5, capMs: 20 } });
    const use = async (step: number): Promise<void> => {
      if (index <= 1) {
        const s3 = new S3Client({ region: "us-east-1", endpoint: clouds.urls.s3, forcePathStyle: true, maxAttempts: 1, credentials: object as KeylessAwsCredentialProvider });
        s3.config.systemClockOffset = clock.now() - Date.now();
        if (step === 0) await s3.send(new CreateBucketCommand({ Bucket: `stale-${index}` }));
        await s3.send(new PutObjectCommand({ Bucket: `stale-${index}`, Key: `k${step}`, Body: "x" }));
      } else if (index <= 3) {
        const storage = new Storage({ authClient: object as KeylessAuthClient, apiEndpoint: clouds.urls.google, useAuthWithCustomEndpoint: true, projectId: "keyless-demo" });
        await storage.bucket("keyless-demo-bucket").getFiles();
      } else {
        // A new client per step: its pipeline asks the credential every time (the pipeline's own cache runs on the real clock).
        const service = new BlobServiceClient(azurite.blobUrl, object as FederatedCredential);
        const container = service.getContainerClient(`stale-${index}`);
        if (step === 0) await container.create();
        await container.getBlockBlobClient(`b${step}`).upload("x", 1);
      }
    };
    await use(0);
    for (const prefix of IDENTITY_PLANE) clouds.instrumentation.inject(prefix, { status: 503, body: "outage", times: Infinity });
    clouds.instrumentation.resetCounts();
    const startedAt = clock.now();
    // Every 3 minutes until just before the hard margin (59 minutes into a one-hour credential).
    for (let step = 1; clock.now() - startedAt < 57 * MIN; step++) {
      await clock.advance(3 * MIN);
      await use(step);
    }
    // The outage was real: background refreshes were tried, and failed, while callers were served.
    const tried = IDENTITY_PLANE.reduce((n, p) => n + clouds.instrumentation.count(p), 0);
    expect(tried).toBeGreaterThan(0);
    clouds.instrumentation.clearFaults();
  }, 60_000);
});

describe("soak: 24 simulated hours, six directions, 100 concurrent callers each, 5 % random faults", () => {
  it("serves no expired credential, and calls upstreams within a small factor of 24 h / refresh interval", async () => {
    const clock = new ManualClock(Date.now());
    const clouds = await startEmulatedClouds({ clock, tls: testCertificate() });
    const restore = withEnv(clouds.env);
    clearSharedCaches();
    try {
      const credentials = DIRECTIONS.map((d) => d.make(clouds, { clock, shareCache: false, retry: { baseMs: 50, capMs: 2_000 } }));
      const errors: string[] = [];
      let expired = 0;
      let served = 0;
      const wait = async (promise: Promise<unknown>) => {
        let settled = false;
        void promise.finally(() => (settled = true));
        while (!settled) {
          await new Promise((r) => setTimeout(r, 1));
          if (!settled) await clock.advance(100); // foreground retries sleep on the simulated clock
        }
        await promise;
      };
      // Cold start without faults; then 5 % of every identity-plane request fails.
      await wait(Promise.all(credentials.map((c) => c.get())));
      clouds.instrumentation.resetCounts();
      clouds.instrumentation.randomFaultRate = 0.05;
      for (let minute = 0; minute < 24 * 60; minute++) {
        await clock.advance(MIN);
        const calls = credentials.flatMap((c) =>
          Array.from({ length: 100 }, () =>
            c.get().then(
              (v) => {
                served++;
                if (v.expiresAt <= clock.now()) expired++;
              },
              (e: unknown) => errors.push(String(e)),
            ),
          ),
        );
        await wait(Promise.all(calls));
        await new Promise((r) => setImmediate(r));
      }
      clouds.instrumentation.randomFaultRate = 0;
      const counts = clouds.instrumentation.counts();
      const exchanges = {
        "GCP → AWS + Azure → AWS (STS)": counts["aws.sts.AssumeRoleWithWebIdentity"] ?? 0,
        "AWS → GCP + Azure → GCP (IAM Credentials)": counts["google.iam.generateAccessToken"] ?? 0,
        "GCP → Azure + AWS → Azure (Entra)": counts["azure.entra.token"] ?? 0,
      };
      console.log(`soak: ${served} credentials served over 24 simulated hours, ${expired} expired, ${errors.length} errors; upstream requests ${JSON.stringify(counts)}`);
      expect(expired).toBe(0);
      expect(errors).toEqual([]);
      expect(served).toBe(24 * 60 * 600);
      // Two directions per figure; one-hour credentials refreshed about every 40 minutes: 2 × 36 = 72 exchanges, plus retries of the 5 %.
      for (const [name, n] of Object.entries(exchanges)) {
        expect(n, name).toBeGreaterThanOrEqual(48);
        expect(n, name).toBeLessThanOrEqual(72 * 2);
      }
    } finally {
      restore();
      await clouds.close();
    }
  }, 300_000);
});
