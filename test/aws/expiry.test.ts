import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { fromGcpWorkload } from "../../src/aws/index.js";
import { clearSharedCaches } from "../../src/core/refresh.js";
import { startEmulatedClouds, type EmulatedClouds } from "../../src/testing/index.js";
import { ManualClock } from "../../src/testing/manual-clock.js";
import { withEnv } from "../env.js";

const MIN = 60_000;
let clouds: EmulatedClouds;
let clock: ManualClock;
let restoreEnv: () => void;
beforeAll(async () => {
  clock = new ManualClock(Date.now());
  clouds = await startEmulatedClouds({ clock });
  restoreEnv = withEnv(clouds.env);
  clearSharedCaches();
});
afterAll(async () => {
  restoreEnv?.();
  await clouds.close();
});

describe("across expiry, on the emulated clouds' clock", () => {
  it("six simulated hours of S3 requests: none signed with expired keys, none waiting on a refresh after the first", async () => {
    const foreground: number[] = [];
    const credentials = fromGcpWorkload({
      roleArn: "arn:aws:iam::111122223333:role/keyless-from-gcp",
      region: "us-east-1",
      clock,
      onEvent: (e) => {
        if (e.type === "refresh-start" && !e.background) foreground.push(clock.now());
      },
    });
    const s3 = new S3Client({ region: "us-east-1", endpoint: clouds.urls.s3, forcePathStyle: true, credentials, maxAttempts: 1 });
    const sync = () => {
      // The SDK signs with its own clock: keep it on the simulated one so the S3 emulator's 15-minute window holds.
      s3.config.systemClockOffset = clock.now() - Date.now();
    };
    sync();
    await s3.send(new CreateBucketCommand({ Bucket: "expiry" }));
    const usedKeys = new Set<string>();
    let expiredUses = 0;
    for (let minute = 0; minute < 6 * 60; minute += 2) {
      await clock.advance(2 * MIN);
      sync();
      const creds = await credentials();
      if (creds.expiration.getTime() <= clock.now()) expiredUses++;
      usedKeys.add(creds.accessKeyId);
      await s3.send(new PutObjectCommand({ Bucket: "expiry", Key: `m${minute}`, Body: "x" }));
    }
    expect(expiredUses).toBe(0);
    // Every PutObject verified against the issued keys' expiry on the same clock (an expired key gets 403 ExpiredToken).
    expect(clouds.instrumentation.count("aws.s3.PutObject")).toBe(180);
    // One-hour credentials refreshed about every 40 minutes: 6 h → about 9 exchanges (first one included).
    const exchanges = clouds.instrumentation.count("aws.sts.AssumeRoleWithWebIdentity");
    expect(exchanges).toBeGreaterThanOrEqual(7);
    expect(exchanges).toBeLessThanOrEqual(12);
    expect(usedKeys.size).toBeGreaterThanOrEqual(exchanges - 1); // the last background refresh may still be landing
    expect(foreground).toHaveLength(1); // only the cold start waited
  });

  it("the provider carries memoized = true, so the SDK client does not wrap it in its own blocking refresh", () => {
    const credentials = fromGcpWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-gcp", region: "us-east-1", clock });
    expect(credentials.memoized).toBe(true);
  });
});
