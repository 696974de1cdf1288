import { describe, expect, it } from "vitest";
import { cacheKey, RefreshingCache, sharedCache, type Expiring, type FetchContext, type RefreshEvent } from "../../src/core/refresh.js";
import { KeylessError } from "../../src/core/errors.js";
import { ManualClock } from "../../src/testing/manual-clock.js";

const HOUR = 3_600_000;
const MIN = 60_000;

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An upstream whose answers the test scripts one by one; counts every call. */
function scriptedUpstream(clock: ManualClock, lifetimeMs = HOUR) {
  const calls: FetchContext[] = [];
  const queue: Array<() => Promise<Expiring<string>>> = [];
  let serial = 0;
  const fetch = (context: FetchContext): Promise<Expiring<string>> => {
    calls.push(context);
    const next = queue.shift();
    if (next) return next();
    serial++;
    return Promise.resolve({ value: `v${serial}`, expiresAt: clock.now() + lifetimeMs });
  };
  return { calls, queue, fetch };
}

const retryable = (extra: Partial<ConstructorParameters<typeof KeylessError>[2]> = {}) =>
  new KeylessError("ERR_HTTP_CONNECTION", "upstream down", { step: "test", retryable: true, ...extra });
const fatal = () => new KeylessError("ERR_STS_ACCESS_DENIED", "denied", { step: "test" });

function cache(clock: ManualClock, fetch: (c: FetchContext) => Promise<Expiring<string>>, extra: Partial<ConstructorParameters<typeof RefreshingCache<string>>[1]> = {}) {
  return new RefreshingCache<string>(fetch, { name: "test", clock, random: () => 0.5, ...extra });
}

describe("RefreshingCache", () => {
  it("single flight: 10,000 concurrent cold callers cause exactly one fetch and all get its value", async () => {
    const clock = new ManualClock();
    const up = scriptedUpstream(clock);
    const gate = deferred<Expiring<string>>();
    up.queue.push(() => gate.promise);
    const c = cache(clock, up.fetch);
    const all = Promise.all(Array.from({ length: 10_000 }, () => c.get()));
    gate.resolve({ value: "shared", expiresAt: clock.now() + HOUR });
    const values = await all;
    expect(up.calls).toHaveLength(1);
    expect(new Set(values)).toEqual(new Set(["shared"]));
  });

  it("single flight: concurrent cold callers all get the one fetch's error", async () => {
    const clock = new ManualClock();
    const up = scriptedUpstream(clock);
    up.queue.push(() => Promise.reject(fatal()));
    const c = cache(clock, up.fetch);
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => c.get()));
    expect(up.calls).toHaveLength(1);
    expect(results.every((r) => r.status === "rejected" && (r.reason as KeylessError).code === "ERR_STS_ACCESS_DENIED")).toBe(true);
  });

  it("past the refresh point a call starts one background refresh and returns the still-valid value at once", async () => {
    const clock = new ManualClock();
    const up = scriptedUpstream(clock);
    const c = cache(clock, up.fetch);
    expect(await c.get()).toBe("v1");
    await clock.advance(50 * MIN); // past the refresh point (at most 55 min for a 1 h value), before the hard margin
    const gate = deferred<Expiring<string>>();
    up.queue.push(() => gate.promise);
    let settled = false;
    const during = Promise.all(Array.from({ length: 50 }, () => c.get())).then((v) => ((settled = true), v));
    await clock.advance(0);
    expect(settled).toBe(true); // nobody waited for the refresh in flight
    expect(await during).toEqual(Array(50).fill("v1"));
    expect(up.calls).toHaveLength(2);
    expect(up.calls[1]?.background).toBe(true);
    gate.resolve({ value: "v2", expiresAt: clock.now() + HOUR });
    await clock.advance(0);
    expect(await c.get()).toBe("v2");
    expect(up.calls).toHaveLength(2);
  });

  it("never returns a value inside the hard margin: callers wait for a fresh one", async () => {
    const clock = new ManualClock();
    const up = scriptedUpstream(clock);
    const c = cache(clock, up.fetch, { hardMarginMs: 60_000 });
    await c.get();
    await clock.advance(HOUR - 30_000); // 30 s before expiry
    const gate = deferred<Expiring<string>>();
    up.queue.push(() => gate.promise);
    let value: string | undefined;
    const waiting = c.get().then((v) => (value = v));
    await clock.advance(0);
    expect(value).toBeUndefined();
    expect(up.calls[1]?.background).toBe(false);
    gate.resolve({ value: "fresh", expiresAt: clock.now() + HOUR });
    await waiting;
    expect(value).toBe("fresh");
  });

  it("a Lambda-style thaw past expiry never serves the expired value, with no timer involved", async () => {
    const clock = new ManualClock();
    const up = scriptedUpstream(clock);
    const c = cache(clock, up.fetch);
    expect(await c.get()).toBe("v1");
    clock.set(clock.now() + 3 * HOUR); // frozen for three hours: no timer fired
    expect(await c.get()).toBe("v2");
    expect(up.calls).toHaveLength(2);
  });

  it("stale while error: a failed background refresh keeps the valid value in service and backs off before trying again", async () => {
    const clock = new ManualClock();
    const up = scriptedUpstream(clock);
    const c = cache(clock, up.fetch, { random: () => 0.999 });
    await c.get();
    await clock.advance(56 * MIN);
    up.queue.push(() => Promise.reject(retryable()));
    expect(await c.get()).toBe("v1");
    await clock.advance(0);
    expect(up.calls).toHaveLength(2);
    // Within the backoff window (first background failure: up to 100 ms), calls do not reach the upstream.
    for (let i = 0; i < 20; i++) expect(await c.get()).toBe("v1");
    expect(up.calls).toHaveLength(2);
    await clock.advance(150);
    expect(await c.get()).toBe("v1"); // starts the retry, still serves the valid value
    await clock.advance(0);
    expect(up.calls).toHaveLength(3);
    expect(await c.get()).toBe("v2");
  });

  it("stale while error honours Retry-After before the next background attempt", async () => {
    const clock = new ManualClock();
    const up = scriptedUpstream(clock);
    const c = cache(clock, up.fetch);
    await c.get();
    await clock.advance(56 * MIN);
    up.queue.push(() => Promise.reject(retryable({ retryAfterMs: 30_000 })));
    await c.get();
    await clock.advance(29_000);
    await c.get();
    expect(up.calls).toHaveLength(2);
    await clock.advance(1_001);
    await c.get();
    await clock.advance(0);
    expect(up.calls).toHaveLength(3);
  });

  it("a foreground refresh retries retryable failures with backoff and honours Retry-After", async () => {
    const clock = new ManualClock();
    const up = scriptedUpstream(clock);
    const events: RefreshEvent[] = [];
    const c = cache(clock, up.fetch, { onEvent: (e) => events.push(e), retry: { maxAttempts: 3, baseMs: 100 } });
    up.queue.push(() => Promise.reject(retryable({ retryAfterMs: 2_000 })));
    up.queue.push(() => Promise.reject(retryable()));
    let value: string | undefined;
    const pending = c.get().then((v) => (value = v));
    await clock.advance(1_999);
    expect(up.calls).toHaveLength(1); // still honouring Retry-After
    await clock.advance(1);
    expect(up.calls).toHaveLength(2);
    await clock.advance(200);
    await pending;
    expect(value).toBe("v1");
    expect(up.calls.map((x) => x.attempt)).toEqual([1, 2, 3]);
    expect(events.filter((e) => e.type === "retry-scheduled").map((e) => e.delayMs)).toEqual([2_000, 100]);
  });

  it("a non-retryable failure is thrown at once, and the cooldown keeps callers off the upstream", async () => {
    const clock = new ManualClock();
    const up = scriptedUpstream(clock);
    const c = cache(clock, up.fetch, { cooldownMs: 5_000 });
    up.queue.push(() => Promise.reject(fatal()));
    await expect(c.get()).rejects.toMatchObject({ code: "ERR_STS_ACCESS_DENIED" });
    expect(clock.pendingSleeps).toBe(0); // no backoff for a non-retryable error
    for (let i = 0; i < 100; i++) await expect(c.get()).rejects.toMatchObject({ code: "ERR_STS_ACCESS_DENIED" });
    expect(up.calls).toHaveLength(1);
    await clock.advance(5_001);
    expect(await c.get()).toBe("v1");
    expect(up.calls).toHaveLength(2);
  });

  it("an error's own attempt limit caps retries (e.g. InvalidIdentityToken: one retry)", async () => {
    const clock = new ManualClock();
    const up = scriptedUpstream(clock);
    const c = cache(clock, up.fetch, { retry: { maxAttempts: 5 } });
    for (let i = 0; i < 5; i++) up.queue.push(() => Promise.reject(retryable({ maxAttempts: 2 })));
    const result = c.get().catch((e: unknown) => e);
    await clock.advance(10_000);
    expect(await result).toMatchObject({ code: "ERR_HTTP_CONNECTION" });
    expect(up.calls).toHaveLength(2);
  });

  it("abort abandons one caller's wait without cancelling the shared fetch", async () => {
    const clock = new ManualClock();
    const up = scriptedUpstream(clock);
    const gate = deferred<Expiring<string>>();
    up.queue.push(() => gate.promise);
    const c = cache(clock, up.fetch);
    const controller = new AbortController();
    const aborted = c.get({ signal: controller.signal });
    const patient = c.get();
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: "ERR_ABORTED" });
    gate.resolve({ value: "v", expiresAt: clock.now() + HOUR });
    expect(await patient).toBe("v");
    expect(up.calls).toHaveLength(1);
    await expect(c.get({ signal: AbortSignal.abort() })).resolves.toBe("v"); // a warm value needs no wait to abort
  });

  it("refuses an upstream value that is already expired", async () => {
    const clock = new ManualClock();
    const c = cache(clock, () => Promise.resolve({ value: "old", expiresAt: clock.now() - 1 }), { retry: { maxAttempts: 1 } });
    await expect(c.get()).rejects.toMatchObject({ code: "ERR_CREDENTIALS_EXPIRED" });
  });

  it("spreads the first refresh of a fleet over a whole refresh interval; later ones stay within ±10 %", async () => {
    const clock = new ManualClock();
    const firsts: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      const c = new RefreshingCache<string>(() => Promise.resolve({ value: "x", expiresAt: clock.now() + HOUR }), {
        name: "fleet",
        clock,
        onEvent: (e) => {
          if (e.type === "refresh-success" && e.refreshAt !== undefined) firsts.push(e.refreshAt - clock.now());
        },
      });
      await c.get();
    }
    const min = Math.min(...firsts);
    const max = Math.max(...firsts);
    expect(max).toBeLessThanOrEqual(55 * MIN); // never later than 5 minutes before expiry
    expect(max - min).toBeGreaterThan(35 * MIN); // a window as wide as the 40-minute refresh interval
    // Later refresh points: 40 min ± 10 %.
    const later: number[] = [];
    const c = new RefreshingCache<string>(() => Promise.resolve({ value: "x", expiresAt: clock.now() + HOUR }), {
      name: "later",
      clock,
      onEvent: (e) => {
        if (e.type === "refresh-success" && e.refreshAt !== undefined) later.push(e.refreshAt - clock.now());
      },
    });
    await c.get();
    for (let i = 0; i < 50; i++) {
      await c.get({ forceRefresh: true });
    }
    for (const delta of later.slice(1)) {
      expect(delta).toBeGreaterThanOrEqual(36 * MIN);
      expect(delta).toBeLessThanOrEqual(44 * MIN);
    }
  });

  it("identical configurations share one cache process-wide", () => {
    const source = () => "token";
    const a = cacheKey("aws", { roleArn: "arn:aws:iam::1:role/r", region: "us-east-1", token: source, unset: undefined });
    const b = cacheKey("aws", { region: "us-east-1", token: source, roleArn: "arn:aws:iam::1:role/r" });
    const other = cacheKey("aws", { region: "us-east-1", token: () => "token", roleArn: "arn:aws:iam::1:role/r" });
    expect(a).toBe(b);
    expect(a).not.toBe(other);
    let created = 0;
    const make = () => (created++, new RefreshingCache<string>(() => Promise.resolve({ value: "x", expiresAt: Date.now() + HOUR }), { name: "shared" }));
    expect(sharedCache(a, make)).toBe(sharedCache(b, make));
    expect(created).toBe(1);
  });

  it("keeps at most 1,000 distinct shared configurations (per-call callbacks cannot grow it without bound)", () => {
    const first = sharedCache("bound-0", () => new RefreshingCache<string>(() => Promise.resolve({ value: "x", expiresAt: Date.now() + HOUR }), { name: "b" }));
    for (let i = 1; i <= 1_000; i++) sharedCache(`bound-${i}`, () => new RefreshingCache<string>(() => Promise.resolve({ value: "x", expiresAt: Date.now() + HOUR }), { name: "b" }));
    let recreated = false;
    const again = sharedCache("bound-0", () => ((recreated = true), new RefreshingCache<string>(() => Promise.resolve({ value: "x", expiresAt: Date.now() + HOUR }), { name: "b" })));
    expect(recreated).toBe(true);
    expect(again).not.toBe(first);
  });

  it("reports events without secrets, and a throwing logger cannot break delivery", async () => {
    const clock = new ManualClock();
    const events: RefreshEvent[] = [];
    const c = cache(clock, () => Promise.resolve({ value: "SECRET-VALUE", expiresAt: clock.now() + HOUR }), {
      onEvent: (e) => {
        events.push(e);
        throw new Error("logger broke");
      },
    });
    expect(await c.get()).toBe("SECRET-VALUE");
    expect(events.map((e) => e.type)).toEqual(["refresh-start", "refresh-success"]);
    expect(JSON.stringify(events)).not.toContain("SECRET-VALUE");
  });
});
