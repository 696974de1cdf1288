/**
 * @module core/options
 * Options every keyless credential accepts, whatever its direction.
 */
import type { Clock } from "./clock.js";
import type { TransportOptions } from "./http.js";
import type { RefreshEvent, RetryOptions } from "./refresh.js";

export interface CommonCredentialOptions extends TransportOptions {
  /** Inside this many milliseconds before expiry a credential is never handed out; callers wait for a fresh one. Default 60000. */
  hardMarginMs?: number;
  /** Retry policy for failed refreshes (exponential backoff with full jitter). */
  retry?: RetryOptions;
  /** After a refresh fails with no valid credential left, callers get that error for this many milliseconds without an upstream call. Default 1000. */
  cooldownMs?: number;
  /** Receives refresh events (start, success, failure, retry), never secrets. `KEYLESS_DEBUG=1` prints them to stderr. */
  onEvent?: (event: RefreshEvent) => void;
  /** Time source (tests). Default the system clock. */
  clock?: Clock;
  /** Share one cache with every credential of identical configuration in this process. Default true. */
  shareCache?: boolean;
}

/** The refresh-core options within `options`. */
export function refreshOptionsOf(options: CommonCredentialOptions) {
  return {
    ...(options.hardMarginMs === undefined ? {} : { hardMarginMs: options.hardMarginMs }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    ...(options.cooldownMs === undefined ? {} : { cooldownMs: options.cooldownMs }),
    ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  };
}

/** The transport options within `options`. */
export function transportOf(options: TransportOptions): TransportOptions {
  const { connectTimeoutMs, timeoutMs, maxResponseBytes, ca, agent } = options;
  return {
    ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(maxResponseBytes === undefined ? {} : { maxResponseBytes }),
    ...(ca === undefined ? {} : { ca }),
    ...(agent === undefined ? {} : { agent }),
  };
}
