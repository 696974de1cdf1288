/**
 * @module core/errors
 * Typed errors with a stable `code`, the failing `step` and a `hint` that says what to change.
 * Nothing secret ever reaches a message, a hint or `util.inspect` output: see {@link redact}.
 */
import { channel } from "node:diagnostics_channel";
import { inspect } from "node:util";

/** Every KeylessError is published here as it is created (no cost without subscribers): for logs, metrics and leak checks. */
export const errorChannel = channel("keyless:error");

/** Stable error codes. Callers branch on these, never on message text. */
export type KeylessErrorCode =
  | "ERR_ABORTED"
  | "ERR_CONFIG"
  | "ERR_ENDPOINT_NOT_ALLOWED"
  | "ERR_HTTP_TIMEOUT"
  | "ERR_HTTP_CONNECTION"
  | "ERR_HTTP_STATUS"
  | "ERR_HTTP_REDIRECT"
  | "ERR_RESPONSE_TOO_LARGE"
  | "ERR_RESPONSE_MALFORMED"
  | "ERR_NOT_GENUINE_METADATA_SERVER"
  | "ERR_TOKEN_SOURCE"
  | "ERR_TOKEN_EXPIRED"
  | "ERR_STS_ACCESS_DENIED"
  | "ERR_STS_INVALID_IDENTITY_TOKEN"
  | "ERR_STS_EXPIRED_TOKEN"
  | "ERR_STS_IDP_COMMUNICATION"
  | "ERR_STS_THROTTLED"
  | "ERR_STS_REJECTED"
  | "ERR_STS_UNAVAILABLE"
  | "ERR_CREDENTIALS_EXPIRED"
  | "ERR_AWS_CREDENTIALS"
  | "ERR_NO_REGION"
  | "ERR_GOOGLE_STS_REJECTED"
  | "ERR_GOOGLE_STS_UNAVAILABLE"
  | "ERR_IMPERSONATION_DENIED"
  | "ERR_IMPERSONATION_FAILED"
  | "ERR_ENTRA_REJECTED"
  | "ERR_ENTRA_UNAVAILABLE"
  | "ERR_COGNITO"
  | "ERR_TENANT_NOT_ALLOWED"
  | "ERR_UNSUPPORTED";

export interface KeylessErrorOptions {
  /** The step that failed, e.g. `gcp-metadata`, `aws-sts`, `azure-imds`. */
  step: string;
  /** What the user should change; never contains a secret. */
  hint?: string;
  /** The underlying error (its message is redacted when rendered). */
  cause?: unknown;
  /** Whether trying again may succeed. Default false. */
  retryable?: boolean;
  /** Upstream asked us to wait this many milliseconds (`Retry-After`). */
  retryAfterMs?: number;
  /** At most this many attempts in total for this kind of failure, whatever the retry policy says. */
  maxAttempts?: number;
  /** Keep retrying this failure until this many milliseconds have passed since the refresh began, whatever the attempt limit (Azure IMDS 410: 70 s). */
  retryWindowMs?: number;
  /** HTTP status of the upstream answer, when there was one. */
  status?: number;
  /** Upstream's own error code (`AccessDenied`, `invalid_grant`, `AADSTS70021`), when there was one. */
  upstreamCode?: string;
  /** Non-secret facts for diagnostics (decoded claims, role ARN, URL without query). */
  details?: Readonly<Record<string, unknown>>;
}

/** The one error class keyless throws. `code` is stable; `message` and `hint` are for people. */
export class KeylessError extends Error {
  override readonly name = "KeylessError";
  readonly code: KeylessErrorCode;
  readonly step: string;
  readonly hint: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly maxAttempts: number | undefined;
  readonly retryWindowMs: number | undefined;
  readonly status: number | undefined;
  readonly upstreamCode: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: KeylessErrorCode, message: string, options: KeylessErrorOptions) {
    super(redact(message), options.cause === undefined ? undefined : { cause: sanitizeCause(options.cause) });
    this.code = code;
    this.step = options.step;
    this.hint = options.hint === undefined ? undefined : redact(options.hint);
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.maxAttempts = options.maxAttempts;
    this.retryWindowMs = options.retryWindowMs;
    this.status = options.status;
    this.upstreamCode = options.upstreamCode;
    this.details = options.details;
    if (errorChannel.hasSubscribers) errorChannel.publish(this);
  }

  /** One line a person can act on: what failed, where, and what to change. */
  override toString(): string {
    return `${this.name} [${this.code}] (${this.step}): ${this.message}${this.hint ? `\n  hint: ${this.hint}` : ""}`;
  }

  [inspect.custom](): string {
    const cause = this.cause instanceof Error ? `\n  cause: ${this.cause.name}: ${this.cause.message}` : "";
    const details = this.details ? `\n  details: ${redact(JSON.stringify(this.details))}` : "";
    return `${this.toString()}${details}${cause}`;
  }
}

/** Whether `error` is a {@link KeylessError}, across copies of the package (ESM and CommonJS). */
export function isKeylessError(error: unknown): error is KeylessError {
  return error instanceof KeylessError || (error instanceof Error && error.name === "KeylessError" && "code" in error);
}

// JWTs, and values after the names secrets travel under: masked wherever text leaves keyless.
const SECRET_PATTERNS: readonly RegExp[] = [
  /\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*/g,
  /((?:Bearer|Signature=|signature=|assertion=|token=|Token=|SecretAccessKey"?[:=]\s*"?|SessionToken"?[:=]\s*"?|access_token"?[:=]\s*"?|Credential=)\s*)[^\s",&<]+/g,
];
// Random-looking runs (AWS secret keys, session tokens): mixed case and digits, few slashes, unlike paths and ids.
const RANDOM_RUN = /[A-Za-z0-9/+=]{40,}/g;

function looksRandom(run: string): boolean {
  return /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run) && (run.match(/\//g)?.length ?? 0) <= Math.max(3, run.length / 16);
}

/** Masks anything that looks like a token, key or signature. Defence in depth: messages are built without secrets. */
export function redact(text: string): string {
  let out = text;
  for (const pattern of SECRET_PATTERNS) {
    out = out.replace(pattern, (match: string, prefix?: unknown) => (typeof prefix === "string" ? `${prefix}[redacted]` : "[redacted]"));
  }
  return out.replace(RANDOM_RUN, (run) => (looksRandom(run) ? "[redacted]" : run));
}

function sanitizeCause(cause: unknown): unknown {
  if (isKeylessError(cause)) return cause;
  if (cause instanceof Error) {
    const copy = new Error(redact(cause.message));
    copy.name = cause.name;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string") (copy as Error & { code?: string }).code = code;
    copy.stack = undefined;
    return copy;
  }
  return new Error(redact(String(cause)));
}

/** The error every abandoned wait rejects with. */
export function abortError(step: string, reason?: unknown): KeylessError {
  return new KeylessError("ERR_ABORTED", "The caller aborted the wait for a credential.", {
    step,
    cause: reason instanceof Error ? reason : undefined,
  });
}
