/**
 * @module core/refresh
 * One refreshing cache under every credential keyless hands out: single flight, proactive
 * non-blocking refresh with fleet-wide jitter, a hard expiry margin, stale-while-error with
 * backoff, a cooldown after failures, and abortable waits. Correctness never depends on a timer
 * firing: every decision is taken when a caller arrives, so a Lambda freeze and thaw is harmless.
 */
import { channel } from "node:diagnostics_channel";
import { systemClock, type Clock } from "./clock.js";
import { abortError, isKeylessError, KeylessError } from "./errors.js";

/** A fetched value and the moment it stops being valid. */
export interface Expiring<T> {
  value: T;
  /** Expiry, epoch milliseconds. */
  expiresAt: number;
}

/** What the cache tells a fetch about the attempt it is making. */
export interface FetchContext {
  /** 1 for the first attempt of a refresh, 2 for its first retry, and so on. */
  attempt: number;
  /** True when callers are being served a still-valid value while this runs. */
  background: boolean;
}

/** One observable step of the cache's life. Never carries a secret. */
export interface RefreshEvent {
  type: "refresh-start" | "refresh-success" | "refresh-failure" | "retry-scheduled" | "cooldown";
  /** The cache's name (a credential kind and its non-secret configuration). */
  name: string;
  background: boolean;
  attempt: number;
  /** Duration of the attempt, milliseconds (success and failure). */
  durationMs?: number;
  /** The failing step and error code (failure). */
  step?: string;
  code?: string;
  /** Expiry and next refresh point, epoch milliseconds (success). */
  expiresAt?: number;
  refreshAt?: number;
  /** How long until the next attempt, milliseconds (retry-scheduled, cooldown). */
  delayMs?: number;
}

/** Retry policy: exponential backoff with full jitter. */
export interface RetryOptions {
  /** First backoff ceiling in milliseconds. Default 100. */
  baseMs?: number;
  /** Largest backoff ceiling in milliseconds. Default 5000 (foreground), 60000 for background retries. */
  capMs?: number;
  /** Attempts per foreground refresh, the first included. Default 3. */
  maxAttempts?: number;
  /** A `Retry-After` longer than this (milliseconds) ends a foreground refresh instead of waiting. Default 10000. */
  maxRetryAfterMs?: number;
}

export interface RefreshOptions<T = unknown> {
  /** Name used in events and errors, e.g. `aws:fromGcpWorkload:arn:aws:iam::1:role/r`. Never a secret. */
  name: string;
  /** Inside this many milliseconds before expiry a value is never returned; callers wait for a fresh one. Default 60000. Shrinks to a quarter of the lifetime for values that live less than four margins. */
  hardMarginMs?: number;
  /** Nominal refresh point as a fraction of the value's lifetime. Default 2/3. */
  refreshFraction?: number;
  /** Refresh no later than this many milliseconds before expiry, when the lifetime allows (at most a third of it). Default 300000. */
  refreshAheadMs?: number;
  /** Relative jitter of every refresh point after the first, ±. Default 0.1. The first refresh point is drawn from a window as wide as a whole refresh interval, so a fleet started together spreads out at once. */
  jitter?: number;
  /** Retry policy for failed refreshes. */
  retry?: RetryOptions;
  /** After a refresh fails with no valid value left, further callers get the same error for this many milliseconds without an upstream call. Default 1000. */
  cooldownMs?: number;
  /** Time source. Default the system clock. */
  clock?: Clock;
  /** Random source in [0, 1), for jitter. Default `Math.random`. */
  random?: () => number;
  /** Receives every {@link RefreshEvent}. Off by default; `KEYLESS_DEBUG=1` also prints events to stderr. */
  onEvent?: (event: RefreshEvent) => void;
  /** Called with each new value and its schedule (epoch ms) before anyone sees it, e.g. to stamp a refresh hint on it. */
  onCommit?: (value: T, schedule: { expiresAt: number; refreshAt: number }) => void;
}

/** The part of an `AbortSignal` keyless uses (Azure's `AbortSignalLike` fits too). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** Per-call options. */
export interface GetOptions {
  /** Abandons this caller's wait (rejecting with `ERR_ABORTED`); the shared refresh goes on for the others. */
  signal?: AbortSignalLike;
  /** Skip the cached value and wait for a fresh one (shared with other callers that ask the same). */
  forceRefresh?: boolean;
}

interface Entry<T> {
  value: T;
  /** Handed to every caller while the entry is fresh: no allocation on the hot path. */
  promise: Promise<T>;
  expiresAt: number;
  /** After this, callers wait instead of being served. */
  usableUntil: number;
  refreshAt: number;
}

/** Every refresh event of every cache is published here too (no cost without subscribers). */
export const refreshChannel = channel("keyless:refresh");

const DEFAULTS = {
  hardMarginMs: 60_000,
  refreshFraction: 2 / 3,
  refreshAheadMs: 300_000,
  jitter: 0.1,
  cooldownMs: 1_000,
  baseMs: 100,
  capMs: 5_000,
  backgroundCapMs: 60_000,
  maxAttempts: 3,
  maxRetryAfterMs: 10_000,
} as const;

/**
 * A value that refreshes itself ahead of expiry. `get()` on a warm cache is a property read and a
 * resolved promise; a refresh in flight is one promise that every concurrent caller shares.
 */
export class RefreshingCache<T> {
  readonly name: string;
  readonly #load: (context: FetchContext) => Promise<Expiring<T>>;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #hardMarginMs: number;
  readonly #fraction: number;
  readonly #aheadMs: number;
  readonly #jitter: number;
  readonly #cooldownMs: number;
  readonly #retry: Required<RetryOptions>;
  readonly #onEvent: ((event: RefreshEvent) => void) | undefined;
  readonly #onCommit: RefreshOptions<T>["onCommit"];

  #entry: Entry<T> | undefined;
  #pending: Promise<Entry<T>> | undefined;
  #pendingBackground = false;
  #everFetched = false;
  #failure: { error: unknown; until: number } | undefined;
  #backgroundFailures = 0;
  #nextBackgroundAt = 0;

  constructor(load: (context: FetchContext) => Promise<Expiring<T>>, options: RefreshOptions<T>) {
    this.name = options.name;
    this.#load = load;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#hardMarginMs = options.hardMarginMs ?? DEFAULTS.hardMarginMs;
    this.#fraction = options.refreshFraction ?? DEFAULTS.refreshFraction;
    this.#aheadMs = options.refreshAheadMs ?? DEFAULTS.refreshAheadMs;
    this.#jitter = options.jitter ?? DEFAULTS.jitter;
    this.#cooldownMs = options.cooldownMs ?? DEFAULTS.cooldownMs;
    this.#retry = {
      baseMs: options.retry?.baseMs ?? DEFAULTS.baseMs,
      capMs: options.retry?.capMs ?? DEFAULTS.capMs,
      maxAttempts: options.retry?.maxAttempts ?? DEFAULTS.maxAttempts,
      maxRetryAfterMs: options.retry?.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs,
    };
    this.#onEvent = debugSink(options.onEvent);
    this.#onCommit = options.onCommit;
    for (const [key, value] of Object.entries({ hardMarginMs: this.#hardMarginMs, cooldownMs: this.#cooldownMs, refreshAheadMs: this.#aheadMs })) {
      if (!(value >= 0)) throw new KeylessError("ERR_CONFIG", `${key} must be a non-negative number of milliseconds.`, { step: "config" });
    }
    if (!(this.#fraction > 0 && this.#fraction < 1)) throw new KeylessError("ERR_CONFIG", "refreshFraction must be between 0 and 1.", { step: "config" });
    if (!(this.#retry.maxAttempts >= 1)) throw new KeylessError("ERR_CONFIG", "retry.maxAttempts must be at least 1.", { step: "config" });
  }

  /** The current value: at once while it is fresh enough, else after one shared refresh. */
  get(options?: GetOptions): Promise<T> {
    const now = this.#clock.now();
    const entry = this.#entry;
    if (entry !== undefined && now < entry.usableUntil && options?.forceRefresh !== true) {
      if (now >= entry.refreshAt && this.#pending === undefined && now >= this.#nextBackgroundAt) this.#startBackground();
      return entry.promise;
    }
    return this.#wait(options?.signal, options?.forceRefresh === true);
  }

  /** The cached value if one is usable now, without starting anything. */
  peek(): Expiring<T> | undefined {
    const entry = this.#entry;
    return entry !== undefined && this.#clock.now() < entry.usableUntil ? { value: entry.value, expiresAt: entry.expiresAt } : undefined;
  }

  /** Forgets the cached value and any cooldown (e.g. after the upstream rejected the credential). */
  invalidate(): void {
    this.#entry = undefined;
    this.#failure = undefined;
  }

  #wait(signal: AbortSignalLike | undefined, force: boolean): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortError(this.name, signal.reason));
    const failure = this.#failure;
    if (failure !== undefined && this.#clock.now() < failure.until && !force) return Promise.reject(failure.error);
    let shared = this.#pending;
    if (shared === undefined || (force && this.#pendingBackground)) {
      shared = this.#start(false);
    } else if (this.#pendingBackground) {
      // A background refresh runs a single attempt; a caller that must wait retries in the foreground if it fails.
      shared = shared.catch(() => this.#pending ?? this.#start(false));
    }
    const result = shared.then((entry) => entry.value);
    return signal === undefined ? result : raceAbort(result, signal, this.name);
  }

  #startBackground(): void {
    this.#start(true).catch(() => {
      // Recorded in #start; the valid value stays in service.
    });
  }

  #start(background: boolean): Promise<Entry<T>> {
    this.#pendingBackground = background;
    const run = this.#run(background).finally(() => {
      if (this.#pending === run) {
        this.#pending = undefined;
        this.#pendingBackground = false;
      }
    });
    this.#pending = run;
    return run;
  }

  async #run(background: boolean): Promise<Entry<T>> {
    const maxAttempts = background ? 1 : this.#retry.maxAttempts;
    const refreshStarted = this.#clock.now();
    for (let attempt = 1; ; attempt++) {
      const started = this.#clock.now();
      this.#emit({ type: "refresh-start", name: this.name, background, attempt });
      let error: unknown;
      try {
        const fetched = await this.#load({ attempt, background });
        const entry = this.#commit(fetched, started);
        this.#emit({ type: "refresh-success", name: this.name, background, attempt, durationMs: this.#clock.now() - started, expiresAt: entry.expiresAt, refreshAt: entry.refreshAt });
        return entry;
      } catch (caught) {
        error = caught;
      }
      const now = this.#clock.now();
      const keyless = isKeylessError(error) ? error : undefined;
      this.#emit({ type: "refresh-failure", name: this.name, background, attempt, durationMs: now - started, step: keyless?.step, code: keyless?.code ?? "ERR_UNKNOWN" });
      const retryAfterMs = keyless?.retryAfterMs ?? 0;
      if (background) {
        this.#backgroundFailures++;
        const delayMs = Math.max(retryAfterMs, this.#backoff(this.#backgroundFailures, DEFAULTS.backgroundCapMs));
        this.#nextBackgroundAt = now + delayMs;
        this.#emit({ type: "retry-scheduled", name: this.name, background, attempt, delayMs, step: keyless?.step, code: keyless?.code ?? "ERR_UNKNOWN" });
        throw error;
      }
      const limit = Math.min(maxAttempts, keyless?.maxAttempts ?? maxAttempts);
      const inWindow = keyless?.retryWindowMs !== undefined && now - refreshStarted < keyless.retryWindowMs;
      if (keyless?.retryable === true && (attempt < limit || inWindow) && retryAfterMs <= this.#retry.maxRetryAfterMs) {
        const delayMs = Math.max(retryAfterMs, this.#backoff(attempt, this.#retry.capMs));
        this.#emit({ type: "retry-scheduled", name: this.name, background, attempt, delayMs, step: keyless?.step, code: keyless?.code ?? "ERR_UNKNOWN" });
        await this.#clock.sleep(delayMs);
        continue;
      }
      this.#failure = { error, until: this.#clock.now() + this.#cooldownMs };
      this.#emit({ type: "cooldown", name: this.name, background, attempt, delayMs: this.#cooldownMs, code: keyless?.code ?? "ERR_UNKNOWN" });
      throw error;
    }
  }

  #commit(fetched: Expiring<T>, started: number): Entry<T> {
    const now = this.#clock.now();
    const { expiresAt } = fetched;
    if (!Number.isFinite(expiresAt) || expiresAt <= now) {
      throw new KeylessError("ERR_CREDENTIALS_EXPIRED", "The upstream returned a credential that has already expired.", {
        step: this.name,
        retryable: true,
        maxAttempts: 2,
        hint: "If this repeats, check this machine's clock against the upstream's (clock skew) and the lifetime the upstream is configured to issue.",
        details: { expiresAt: Number.isFinite(expiresAt) ? new Date(expiresAt).toISOString() : String(expiresAt), now: new Date(now).toISOString() },
      });
    }
    const lifetime = expiresAt - Math.min(started, now);
    const margin = Math.min(this.#hardMarginMs, lifetime / 4);
    const usableUntil = expiresAt - margin;
    const latest = expiresAt - Math.max(margin, Math.min(this.#aheadMs, lifetime / 3));
    const span = Math.max(0, Math.min(lifetime * this.#fraction, latest - now));
    let refreshAt: number;
    if (!this.#everFetched) {
      // First value: spread over a whole refresh interval, so instances started together never refresh together.
      const low = Math.max(now + span / 4, latest - span);
      refreshAt = low + (latest - low) * this.#random();
    } else {
      refreshAt = Math.min(latest, now + span * (1 + this.#jitter * (2 * this.#random() - 1)));
    }
    this.#onCommit?.(fetched.value, { expiresAt, refreshAt });
    const entry: Entry<T> = { value: fetched.value, promise: Promise.resolve(fetched.value), expiresAt, usableUntil, refreshAt };
    this.#entry = entry;
    this.#everFetched = true;
    this.#failure = undefined;
    this.#backgroundFailures = 0;
    this.#nextBackgroundAt = 0;
    return entry;
  }

  #backoff(attempt: number, capMs: number): number {
    const ceiling = Math.min(capMs, this.#retry.baseMs * 2 ** (attempt - 1));
    return Math.floor(ceiling * this.#random());
  }

  #emit(event: RefreshEvent): void {
    if (refreshChannel.hasSubscribers) refreshChannel.publish(event);
    if (this.#onEvent === undefined) return;
    try {
      this.#onEvent(event);
    } catch {
      // A logger must never break credential delivery.
    }
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignalLike, name: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(name, signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function debugSink(onEvent: ((event: RefreshEvent) => void) | undefined): ((event: RefreshEvent) => void) | undefined {
  const debug = process.env["KEYLESS_DEBUG"];
  if (debug === undefined || debug === "" || debug === "0" || debug === "false") return onEvent;
  return (event) => {
    process.stderr.write(`keyless ${JSON.stringify(event)}\n`);
    onEvent?.(event);
  };
}

const shared = new Map<string, RefreshingCache<unknown>>();
/** Distinct configurations kept; past this the least recently created is dropped (a bound, not an expected size). */
const MAX_SHARED = 1_000;
const functionIds = new WeakMap<object, number>();
let nextFunctionId = 1;

/**
 * The process-wide cache for `key`, created by `create` on first use: identical configurations
 * share one cache, so a provider built inside a request handler does not mean an upstream call per request.
 */
export function sharedCache<T>(key: string, create: () => RefreshingCache<T>): RefreshingCache<T> {
  let cache = shared.get(key) as RefreshingCache<T> | undefined;
  if (cache === undefined) {
    cache = create();
    shared.set(key, cache as RefreshingCache<unknown>);
    // Keys made of per-call callbacks would otherwise grow without bound in a long-running service.
    if (shared.size > MAX_SHARED) shared.delete(shared.keys().next().value as string);
  }
  return cache;
}

/** Forgets every shared cache (tests, and processes that rotate configuration). */
export function clearSharedCaches(): void {
  shared.clear();
}

/**
 * A stable key for a configuration object: keys sorted, functions and objects such as agents
 * identified by reference. Never include a secret in `config`.
 */
export function cacheKey(kind: string, config: Readonly<Record<string, unknown>>): string {
  return `${kind}|${JSON.stringify(config, (_key, value: unknown) => {
    if (typeof value === "function" || (value !== null && typeof value === "object" && !Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype)) {
      let id = functionIds.get(value as object);
      if (id === undefined) {
        id = nextFunctionId++;
        functionIds.set(value as object, id);
      }
      return `#ref${id}`;
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return value;
  })}`;
}
