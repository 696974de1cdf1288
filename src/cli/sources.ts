/**
 * @module cli/sources
 * Builds the credentials the CLI serves from command-line flags (which fall back to the same
 * environment variables as the library).
 */
import { KeylessError } from "../core/errors.js";

export type Flags = Record<string, string | boolean | undefined>;

export function flag(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === "string" && v !== "" ? v : undefined;
}

export function required(flags: Flags, name: string, what: string): string {
  const v = flag(flags, name);
  if (v === undefined) throw new KeylessError("ERR_CONFIG", `--${name} is required (${what}).`, { step: "cli" });
  return v;
}

export function intFlag(flags: Flags, name: string): number | undefined {
  const v = flag(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new KeylessError("ERR_CONFIG", `--${name} must be a whole number.`, { step: "cli" });
  return n;
}

/** An OIDC token source for `--from gcp|azure|cognito`. */
export async function tokenSourceFor(from: string, flags: Flags): Promise<() => Promise<string>> {
  const audience = flag(flags, "audience");
  if (from === "gcp") {
    const { gcpIdentityToken } = await import("../sources/gcp-metadata.js");
    const source = gcpIdentityToken({ audience: audience ?? required(flags, "audience", "the token's aud"), ...(flag(flags, "service-account") ? { serviceAccount: flag(flags, "service-account") as string } : {}) });
    return async () => source();
  }
  if (from === "azure") {
    const { azureManagedIdentityToken } = await import("../sources/azure-managed-identity.js");
    const resource = flag(flags, "resource") ?? audience ?? required(flags, "resource", "the App ID URI the other side trusts");
    const source = azureManagedIdentityToken({ resource, ...(flag(flags, "client-id") ? { clientId: flag(flags, "client-id") as string } : {}) });
    return async () => source();
  }
  if (from === "cognito") {
    const { cognitoDeveloperToken } = await import("../sources/cognito.js");
    const source = cognitoDeveloperToken({
      identityPoolId: required(flags, "identity-pool-id", "the Cognito identity pool"),
      developerProviderName: required(flags, "developer-provider-name", "the pool's developer provider"),
      developerUserId: flag(flags, "developer-user-id") ?? "keyless-workload",
    });
    return async () => source();
  }
  throw new KeylessError("ERR_CONFIG", `--from must be gcp, azure or cognito (got ${JSON.stringify(from)}).`, { step: "cli" });
}
