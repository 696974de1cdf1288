/**
 * @module sources/gcp-metadata
 * Google ID tokens from the GCE / GKE / Cloud Run metadata server.
 */
import { KeylessError } from "../core/errors.js";
import { decodeJwt } from "../core/jwt.js";
import { request, retryAfterMs, type TransportOptions } from "../core/http.js";
import type { TokenRequest, TokenSource } from "./types.js";
import { transportOf } from "../core/options.js";

export interface GcpIdentityTokenOptions extends TransportOptions {
  /** The `aud` claim to ask for. */
  audience: string;
  /** Metadata server `host[:port]`. Default `GCE_METADATA_HOST`, else `metadata.google.internal`. */
  metadataHost?: string;
  /** Service account to speak for. Default `default` (the one attached to the workload). */
  serviceAccount?: string;
}

const STEP = "gcp-metadata";

/** The metadata host keyless talks to: the option, `GCE_METADATA_HOST`, or `metadata.google.internal`. */
export function gcpMetadataHost(option?: string): string {
  return option ?? process.env["GCE_METADATA_HOST"] ?? "metadata.google.internal";
}

/** A {@link TokenSource} of Google ID tokens (`format=full`) for `audience`. */
export function gcpIdentityToken(options: GcpIdentityTokenOptions): TokenSource {
  if (typeof options.audience !== "string" || options.audience === "" || options.audience.length > 1_000) {
    throw new KeylessError("ERR_CONFIG", "A Google ID token needs a non-empty audience (at most 1000 characters).", { step: STEP });
  }
  const account = options.serviceAccount ?? "default";
  const path = `/computeMetadata/v1/instance/service-accounts/${encodeURIComponent(account)}/identity?audience=${encodeURIComponent(options.audience)}&format=full`;
  return async (req?: TokenRequest) => {
    const host = gcpMetadataHost(options.metadataHost);
    const response = await request({
      ...options,
      url: `http://${host}${path}`,
      headers: { "metadata-flavor": "Google" },
      step: STEP,
      signal: req?.signal,
      connectTimeoutMs: options.connectTimeoutMs ?? 1_000,
      timeoutMs: options.timeoutMs ?? 5_000,
    }).catch((error: unknown) => {
      if (error instanceof KeylessError && (error.code === "ERR_HTTP_CONNECTION" || error.code === "ERR_HTTP_TIMEOUT")) {
        throw new KeylessError(error.code, `The GCP metadata server at ${host} did not answer: ${error.message}`, {
          step: STEP,
          cause: error,
          retryable: true,
          hint: "Run this on GCE, GKE (with Workload Identity) or Cloud Run, or set GCE_METADATA_HOST to reach a metadata server.",
        });
      }
      throw error;
    });
    // A token is only ever taken from an answer that says it is the metadata server.
    if (response.status === 200 && response.headers["metadata-flavor"] !== "Google") {
      throw new KeylessError("ERR_NOT_GENUINE_METADATA_SERVER", `The answer from ${host} lacks the Metadata-Flavor: Google header: something other than the GCP metadata server answered.`, {
        step: STEP,
        status: response.status,
        hint: "A proxy or captive portal may be intercepting the metadata address; make sure NO_PROXY covers it.",
      });
    }
    if (response.status !== 200) {
      const retryable = response.status === 503 || response.status === 429 || response.status >= 500;
      throw new KeylessError("ERR_TOKEN_SOURCE", `The GCP metadata server refused the ID token request (HTTP ${response.status}).`, {
        step: STEP,
        status: response.status,
        retryable,
        ...(retryable ? { retryAfterMs: retryAfterMs(response) } : {}),
        hint:
          response.status === 404
            ? `No service account "${account}" is attached to this workload: attach one (GKE: bind the Kubernetes service account with Workload Identity).`
            : retryable
              ? "The metadata server is starting or overloaded; keyless retries."
              : undefined,
      });
    }
    const token = response.body.toString("utf8").trim();
    decodeJwt(token, STEP);
    return token;
  };
}

/** How a target's options reach the metadata server (the same options everywhere). */
export interface GcpMetadataChoice {
  /** Metadata server `host[:port]`. Default `GCE_METADATA_HOST`, else `metadata.google.internal`. */
  metadataHost?: string;
  /** Service account to speak for. Default `default`. */
  serviceAccount?: string;
}

/** The Google ID token source for `audience`, and the non-secret key that identifies it for shared caches. */
export function gcpIdentitySource(options: GcpMetadataChoice & TransportOptions, audience: string): { source: TokenSource; key: Record<string, unknown> } {
  const source = gcpIdentityToken({ ...transportOf(options), audience, ...(options.metadataHost ? { metadataHost: options.metadataHost } : {}), ...(options.serviceAccount ? { serviceAccount: options.serviceAccount } : {}) });
  return { source, key: { source: "gcp-metadata", audience, metadataHost: gcpMetadataHost(options.metadataHost), serviceAccount: options.serviceAccount } };
}
