/**
 * @module core/jwt
 * JWT claim decoding without verification: for expiry and for diagnostics only, never for trust.
 * Hand-written (Node's base64url decoder makes it a few lines) so that the CommonJS build never
 * has to `require()` an ES module.
 */
import { KeylessError } from "./errors.js";

/** Registered and common claims keyless reads; anything else is kept as unknown. */
export interface JwtClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  azp?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
  email?: string;
  [claim: string]: unknown;
}

/** Decodes the payload of a compact JWS. Throws `ERR_RESPONSE_MALFORMED` when it is not one. */
export function decodeJwt(token: string, step = "jwt"): JwtClaims {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) {
    throw new KeylessError("ERR_RESPONSE_MALFORMED", "The token is not a JWT (expected three dot-separated parts).", { step });
  }
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    if (claims === null || typeof claims !== "object" || Array.isArray(claims)) throw new TypeError("payload is not an object");
    return claims as JwtClaims;
  } catch (cause) {
    throw new KeylessError("ERR_RESPONSE_MALFORMED", "The token's payload is not base64url-encoded JSON.", { step, cause });
  }
}

/** Expiry of a JWT in epoch milliseconds, or undefined when it has no numeric `exp`. */
export function jwtExpiresAt(token: string, step?: string): number | undefined {
  const { exp } = decodeJwt(token, step);
  return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
}

/** The non-secret claims worth showing a person who must match them against a trust policy. */
export function describeClaims(claims: JwtClaims): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ["iss", "aud", "azp", "sub", "email", "exp", "iat", "nbf"] as const) {
    if (claims[key] !== undefined) out[key] = claims[key];
  }
  return out;
}

/**
 * Throws `ERR_TOKEN_EXPIRED` (retryable once) when `token` expires within `marginMs` of `now`: a
 * subject token or assertion is never sent when the other side would reject it as expired.
 */
export function assertFresh(token: string, now: number, step: string, marginMs = 30_000): void {
  const { exp, iat } = decodeJwt(token, step);
  if (typeof exp !== "number" || !Number.isFinite(exp)) return;
  const expiresAt = exp * 1000;
  // Short-lived tokens (a few minutes or less) get a margin of a quarter of their life.
  const margin = typeof iat === "number" && exp > iat ? Math.min(marginMs, ((exp - iat) * 1000) / 4) : marginMs;
  if (expiresAt <= now + margin) {
    throw new KeylessError("ERR_TOKEN_EXPIRED", `The token source returned a token that ${expiresAt <= now ? "has expired" : "is about to expire"} (${new Date(expiresAt).toISOString()}).`, {
      step,
      retryable: true,
      maxAttempts: 2,
      hint: "Check the token source (a token file not being rotated?) and this machine's clock.",
    });
  }
}
