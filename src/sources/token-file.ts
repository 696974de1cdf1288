/**
 * @module sources/token-file
 * A token kept in a file by someone else (a Kubernetes projected service account token, AKS
 * workload identity, a CI system), re-read before every exchange so rotations are picked up.
 */
import { readFile } from "node:fs/promises";
import { KeylessError } from "../core/errors.js";
import { decodeJwt } from "../core/jwt.js";
import type { TokenSource } from "./types.js";

const STEP = "token-file";
const MAX_BYTES = 64 * 1024;

/** A {@link TokenSource} that reads `path` each time it is called. */
export function tokenFile(path: string): TokenSource {
  if (typeof path !== "string" || path === "") throw new KeylessError("ERR_CONFIG", "A token file source needs a path.", { step: STEP });
  if (/^eyJ[\w-]+\.[\w-]+\./.test(path)) {
    throw new KeylessError("ERR_CONFIG", "This looks like a token, not a file path.", { step: STEP, hint: "Pass a function returning the token, or the path of a file that holds it." });
  }
  return async () => {
    let text: string;
    try {
      const content = await readFile(path);
      if (content.length > MAX_BYTES) throw new KeylessError("ERR_TOKEN_SOURCE", `The token file ${path} is larger than ${MAX_BYTES} bytes.`, { step: STEP });
      text = content.toString("utf8").trim();
    } catch (error) {
      if (error instanceof KeylessError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new KeylessError("ERR_TOKEN_SOURCE", `Cannot read the token file ${path} (${code ?? "error"}).`, {
        step: STEP,
        cause: error,
        retryable: code === "ENOENT",
        hint: code === "ENOENT" ? "Check the path (AWS_WEB_IDENTITY_TOKEN_FILE / AZURE_FEDERATED_TOKEN_FILE) and that the volume is mounted." : "Check the file's permissions.",
      });
    }
    if (text === "") throw new KeylessError("ERR_TOKEN_SOURCE", `The token file ${path} is empty.`, { step: STEP, retryable: true });
    decodeJwt(text, STEP);
    return text;
  };
}
