/**
 * @module cli/gcp-executable
 * `keyless gcp executable`: Google's executable-sourced credential protocol, so gcloud and every
 * Google SDK on Azure (App Service, Functions, Container Apps included) get a managed identity
 * token as an OIDC subject token.
 */
import { decodeJwt } from "../core/jwt.js";
import { isKeylessError } from "../core/errors.js";
import { writePrivateFile } from "./credential-process.js";
import { tokenSourceFor, type Flags } from "./sources.js";

export type ExecutableResponse =
  | { version: 1; success: true; token_type: "urn:ietf:params:oauth:token-type:jwt" | "urn:ietf:params:oauth:token-type:id_token"; id_token: string; expiration_time: number }
  | { version: 1; success: false; code: string; message: string };

export async function gcpExecutable(flags: Flags): Promise<ExecutableResponse> {
  try {
    const from = typeof flags["from"] === "string" ? flags["from"] : "azure";
    const source = await tokenSourceFor(from, flags);
    const token = await source();
    const exp = decodeJwt(token).exp;
    const response: ExecutableResponse = {
      version: 1,
      success: true,
      token_type: process.env["GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE"] === "urn:ietf:params:oauth:token-type:id_token" ? "urn:ietf:params:oauth:token-type:id_token" : "urn:ietf:params:oauth:token-type:jwt",
      id_token: token,
      expiration_time: typeof exp === "number" ? exp : Math.floor(Date.now() / 1000) + 300,
    };
    const output = process.env["GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE"];
    if (output) writePrivateFile(output, JSON.stringify(response));
    return response;
  } catch (error) {
    return { version: 1, success: false, code: isKeylessError(error) ? error.code : "ERR_UNKNOWN", message: error instanceof Error ? `${error.message}${isKeylessError(error) && error.hint ? ` (${error.hint})` : ""}` : String(error) };
  }
}
