/**
 * @module testing/issuer
 * An OIDC token issuer for the emulated clouds: real RS256 signatures and a published JWKS, on the
 * emulated clouds' clock.
 */
import { randomUUID } from "node:crypto";
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, errors as joseErrors, type JWK, type JWTPayload, type CryptoKey } from "jose";
import type { Clock } from "../core/clock.js";

/** Why a token was refused, in terms the emulated services map to their own error codes. */
export type VerifyFailure = "malformed" | "unknown-issuer" | "bad-signature" | "expired" | "not-yet-valid" | "wrong-audience";

export class TokenVerificationError extends Error {
  constructor(readonly reason: VerifyFailure, message: string) {
    super(message);
  }
}

/** Signs tokens as `iss` and verifies its own tokens. */
export class Issuer {
  readonly iss: string;
  readonly kid = randomUUID();
  readonly #clock: Clock;
  #privateKey: CryptoKey | undefined;
  #jwk: JWK | undefined;

  private constructor(iss: string, clock: Clock) {
    this.iss = iss;
    this.#clock = clock;
  }

  static async create(iss: string, clock: Clock): Promise<Issuer> {
    const issuer = new Issuer(iss, clock);
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    issuer.#privateKey = privateKey;
    issuer.#jwk = { ...(await exportJWK(publicKey)), kid: issuer.kid, alg: "RS256", use: "sig" };
    return issuer;
  }

  /** The public keys, as served at the issuer's `jwks_uri`. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.#jwk as JWK] };
  }

  /** Signs `claims` (iat/exp from the clock; `lifetimeSeconds` default 3600). */
  async sign(claims: JWTPayload, lifetimeSeconds = 3600): Promise<string> {
    const now = Math.floor(this.#clock.now() / 1000);
    return new SignJWT({ iat: now, nbf: now, exp: now + lifetimeSeconds, ...claims, iss: this.iss })
      .setProtectedHeader({ alg: "RS256", kid: this.kid, typ: "JWT" })
      .sign(this.#privateKey as CryptoKey);
  }

  /** Verifies signature, issuer, lifetime (on the clock, no tolerance) and optionally the audience. */
  async verify(token: string, audience?: string | readonly string[]): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(this.jwks()), {
        issuer: this.iss,
        currentDate: new Date(this.#clock.now()),
        algorithms: ["RS256"],
        ...(audience === undefined ? {} : { audience: audience as string | string[] }),
      });
      return payload;
    } catch (error) {
      throw toVerificationError(error);
    }
  }
}

function toVerificationError(error: unknown): TokenVerificationError {
  if (error instanceof joseErrors.JWTExpired) return new TokenVerificationError("expired", "the token has expired");
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "aud") return new TokenVerificationError("wrong-audience", "the token's audience is not accepted");
    if (error.claim === "nbf" || error.claim === "iat") return new TokenVerificationError("not-yet-valid", "the token is not valid yet");
    if (error.claim === "iss") return new TokenVerificationError("unknown-issuer", "the token's issuer is not accepted");
    return new TokenVerificationError("malformed", `claim ${error.claim} is invalid`);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed || error instanceof joseErrors.JWKSNoMatchingKey) return new TokenVerificationError("bad-signature", "the token's signature does not verify");
  return new TokenVerificationError("malformed", "the token is malformed");
}

/** Every issuer the emulated clouds know, by `iss`. */
export class IssuerRegistry {
  readonly #issuers = new Map<string, Issuer>();

  add(issuer: Issuer): Issuer {
    this.#issuers.set(issuer.iss, issuer);
    return issuer;
  }

  get(iss: string): Issuer | undefined {
    return this.#issuers.get(iss);
  }

  /** Decodes `iss` without trust, then verifies the token with that issuer's keys. */
  async verify(token: string, audience?: string | readonly string[]): Promise<JWTPayload> {
    const parts = token.split(".");
    let iss: unknown;
    try {
      iss = (JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString("utf8")) as { iss?: unknown }).iss;
    } catch {
      throw new TokenVerificationError("malformed", "the token is not a JWT");
    }
    const issuer = typeof iss === "string" ? this.#issuers.get(iss) : undefined;
    if (issuer === undefined) throw new TokenVerificationError("unknown-issuer", `no identity provider is registered for issuer ${String(iss)}`);
    return issuer.verify(token, audience);
  }
}
