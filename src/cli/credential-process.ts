/**
 * @module cli/credential-process
 * `keyless aws credential-process`: AWS `credential_process` JSON, cached on disk per user
 * (mode 0600) so that each new `aws` process reuses credentials until their refresh point.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { KeylessError } from "../core/errors.js";
import { flag, intFlag, required, type Flags } from "./sources.js";

export interface ProcessCredentials {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
}

interface CacheEntry {
  credentials: ProcessCredentials;
  refreshAt: number;
}

/** Per-user cache folder: `KEYLESS_CACHE_DIR`, `XDG_CACHE_HOME/keyless`, or `~/.cache/keyless`. */
export function cacheDir(): string {
  const base = process.env["KEYLESS_CACHE_DIR"] ?? join(process.env["XDG_CACHE_HOME"] ?? join(homedir() || tmpdir(), ".cache"), "keyless");
  mkdirSync(base, { recursive: true, mode: 0o700 });
  return base;
}

function readCache(path: string, now: number): ProcessCredentials | undefined {
  try {
    const stat = statSync(path);
    // Only a file this user owns and nobody else can read.
    if ((stat.mode & 0o077) !== 0 || (typeof process.getuid === "function" && stat.uid !== process.getuid())) return undefined;
    const entry = JSON.parse(readFileSync(path, "utf8")) as CacheEntry;
    if (typeof entry.refreshAt !== "number" || now >= entry.refreshAt || Date.parse(entry.credentials.Expiration) <= now + 60_000) return undefined;
    return entry.credentials;
  } catch {
    return undefined;
  }
}

/** Writes atomically (temporary file, then rename), mode 0600. */
export function writePrivateFile(path: string, content: string): void {
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temp, content, { mode: 0o600 });
  renameSync(temp, path);
}

export async function credentialProcess(flags: Flags): Promise<ProcessCredentials> {
  const from = required(flags, "from", "gcp or azure: where this workload runs");
  const roleArn = flag(flags, "role-arn") ?? process.env["AWS_ROLE_ARN"];
  if (roleArn === undefined) throw new KeylessError("ERR_CONFIG", "--role-arn is required (or AWS_ROLE_ARN).", { step: "cli" });
  const options = {
    roleArn,
    region: flag(flags, "region") ?? process.env["AWS_REGION"] ?? process.env["AWS_DEFAULT_REGION"] ?? "us-east-1",
    ...(flag(flags, "session-name") ? { roleSessionName: flag(flags, "session-name") as string } : {}),
    ...(intFlag(flags, "duration-seconds") ? { durationSeconds: intFlag(flags, "duration-seconds") as number } : {}),
    shareCache: false,
  };
  const keyMaterial = JSON.stringify({ from, ...options, audience: flag(flags, "audience"), resource: flag(flags, "resource"), user: userInfo().username });
  const path = join(cacheDir(), `aws-${createHash("sha256").update(keyMaterial).digest("hex").slice(0, 32)}.json`);
  const now = Date.now();
  if (flags["no-cache"] !== true) {
    const cached = readCache(path, now);
    if (cached) return cached;
  }
  const aws = await import("../aws/index.js");
  const provider =
    from === "gcp"
      ? aws.fromGcpWorkload({ ...options, ...(flag(flags, "audience") ? { audience: flag(flags, "audience") as string } : {}) })
      : from === "azure"
        ? aws.fromAzureWorkload({ ...options, resource: required(flags, "resource", "the App ID URI the IAM OIDC provider trusts") })
        : (() => {
            throw new KeylessError("ERR_CONFIG", `--from must be gcp or azure (got ${JSON.stringify(from)}).`, { step: "cli" });
          })();
  const c = await provider();
  const credentials: ProcessCredentials = { Version: 1, AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken, Expiration: c.expiration.toISOString() };
  const lifetime = c.expiration.getTime() - now;
  const refreshAt = now + Math.min(lifetime * (2 / 3), lifetime - Math.min(5 * 60_000, lifetime / 3));
  if (flags["no-cache"] !== true) writePrivateFile(path, JSON.stringify({ credentials, refreshAt } satisfies CacheEntry));
  return credentials;
}
