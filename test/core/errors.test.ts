import { describe, expect, it } from "vitest";
import { inspect } from "node:util";
import { randomBytes } from "node:crypto";
import { KeylessError, redact } from "../../src/core/errors.js";
import { decodeJwt } from "../../src/core/jwt.js";

const jwt = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: "1", aud: "a", exp: 2_000_000_000 })).toString("base64url")}.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU`;

describe("KeylessError and redaction", () => {
  it("masks JWTs, AWS secrets and session tokens, bearer values and signatures", () => {
    const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const session = `IQoJb3JpZ2luX2Vj${randomBytes(96).toString("base64")}`;
    const text = redact(`token ${jwt} secret ${secret} session ${session} Authorization: Bearer ya29.abc Signature=0123abcd assertion=xyz`);
    for (const s of [jwt, secret, session, "ya29.abc", "0123abcd", "xyz"]) expect(text).not.toContain(s);
  });

  it("keeps what a person needs: ARNs, pool paths, URLs, ids", () => {
    const keep = [
      "arn:aws:sts::111122223333:assumed-role/keyless-workload/keyless-lambda",
      "principalSet://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/keyless/attribute.aws_role/arn:aws:iam::1:role/x",
      "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/keyless/providers/aws",
      "https://sts.us-east-1.amazonaws.com/",
      "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
    ];
    for (const k of keep) expect(redact(k)).toBe(k);
  });

  it("an error built with a secret in its message, hint or cause shows none of it, in any rendering", () => {
    const error = new KeylessError("ERR_TOKEN_SOURCE", `bad token ${jwt}`, { step: "t", hint: `got Bearer ${jwt}`, cause: new Error(`upstream said ${jwt}`) });
    for (const text of [error.message, error.hint ?? "", String(error), inspect(error), inspect(error, { depth: 10 }), JSON.stringify(error), (error.cause as Error).message]) {
      expect(text).not.toContain(jwt);
    }
    expect(error.code).toBe("ERR_TOKEN_SOURCE");
    expect(error.step).toBe("t");
    expect(error).toBeInstanceOf(Error);
  });

  it("decodes JWT claims without verifying, and refuses non-JWTs with a typed error", () => {
    expect(decodeJwt(jwt)).toMatchObject({ sub: "1", aud: "a" });
    expect(() => decodeJwt("not-a-jwt")).toThrow(expect.objectContaining({ code: "ERR_RESPONSE_MALFORMED" }));
    expect(() => decodeJwt("a.bm90IGpzb24.c")).toThrow(expect.objectContaining({ code: "ERR_RESPONSE_MALFORMED" }));
  });
});
