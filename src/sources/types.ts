/**
 * @module sources/types
 * What a token source is: where a workload's own identity comes from.
 */
import type { TransportOptions } from "../core/http.js";

/** Per-call context a source receives. */
export interface TokenRequest {
  signal?: AbortSignal;
}

/**
 * A function that returns a fresh JWT proving the workload's identity (an OIDC ID token, a managed
 * identity token, a Kubernetes service account token). Called right before each exchange; keyless
 * caches the exchanged credential, never the source's token.
 */
export type TokenSource = (request?: TokenRequest) => Promise<string> | string;

/** Options every built-in source accepts: transport settings for its own HTTP calls. */
export type SourceTransportOptions = TransportOptions;
