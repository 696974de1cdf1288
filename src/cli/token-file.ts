/**
 * @module cli/token-file
 * `keyless token-file`: keeps an OIDC token file fresh for tools that read
 * `AWS_WEB_IDENTITY_TOKEN_FILE` or `AZURE_FEDERATED_TOKEN_FILE` (atomic rename, mode 0600,
 * rewritten ahead of expiry) until SIGTERM or SIGINT.
 */
import { decodeJwt } from "../core/jwt.js";
import { KeylessError } from "../core/errors.js";
import { writePrivateFile } from "./credential-process.js";
import { required, tokenSourceFor, type Flags } from "./sources.js";

export async function tokenFileCommand(flags: Flags, log: (line: string) => void): Promise<number> {
  const from = required(flags, "from", "gcp, azure or cognito");
  const out = required(flags, "out", "the file to keep fresh");
  const source = await tokenSourceFor(from, flags);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  let failures = 0;
  try {
    while (!controller.signal.aborted) {
      let waitMs: number;
      try {
        const token = await source();
        writePrivateFile(out, token);
        const exp = decodeJwt(token).exp;
        const now = Date.now();
        const lifetime = typeof exp === "number" ? exp * 1000 - now : 5 * 60_000;
        waitMs = Math.max(1_000, lifetime * (2 / 3));
        failures = 0;
        log(`keyless token-file: wrote ${out} (expires ${typeof exp === "number" ? new Date(exp * 1000).toISOString() : "unknown"}), next refresh in ${Math.round(waitMs / 1000)} s`);
        if (flags["once"] === true) return 0;
      } catch (error) {
        failures++;
        if (flags["once"] === true) throw error;
        waitMs = Math.min(60_000, 1_000 * 2 ** Math.min(failures, 6)) * Math.random();
        log(`keyless token-file: refresh failed (${error instanceof KeylessError ? error.code : "error"}: ${error instanceof Error ? error.message : String(error)}); retrying in ${Math.round(waitMs / 1000)} s`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        controller.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
    log("keyless token-file: stopped");
    return 0;
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
  }
}
