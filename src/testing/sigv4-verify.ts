/**
 * @module testing/sigv4-verify
 * Verifies an AWS Signature Version 4 the way AWS does: recompute it from the request and the
 * secret the emulated AWS issued, and compare. The signing itself is `@smithy/signature-v4`'s.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";

/** Credentials the emulated AWS issued and still knows the secret of. */
export interface IssuedAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Epoch ms. */
  expiresAt: number;
  /** e.g. `arn:aws:sts::111122223333:assumed-role/role/session`. */
  arn: string;
  accountId: string;
}

export type SigV4Failure = "missing" | "malformed" | "unknown-key" | "expired-key" | "bad-token" | "bad-signature" | "stale" | "scope";

export interface SigV4Result {
  ok: boolean;
  failure?: SigV4Failure;
  message?: string;
  credentials?: IssuedAwsCredentials;
  signedHeaders?: string[];
  region?: string;
  service?: string;
}

export interface SigV4Input {
  method: string;
  /** Host as signed (the `host` header). */
  host: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  /** SHA-256 hex of the body, or the literal the client signed (`UNSIGNED-PAYLOAD`, ...). */
  payloadHash?: string;
  body?: Buffer | string;
}

/**
 * Checks the `Authorization` header of `input` against `lookup(accessKeyId)`.
 * @param now Epoch ms on the emulated clock. The signature must be within 15 minutes of it.
 * @param uriEscapePath false for S3, true for every other service.
 */
export async function verifySigV4(input: SigV4Input, lookup: (accessKeyId: string) => IssuedAwsCredentials | undefined, now: number, uriEscapePath = true): Promise<SigV4Result> {
  const auth = headerValue(input.headers, "authorization");
  if (auth === undefined) return { ok: false, failure: "missing", message: "Request is missing Authentication Token" };
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!match) return { ok: false, failure: "malformed", message: "Authorization header is not a SigV4 header" };
  const [, accessKeyId = "", date = "", region = "", service = "", signedList = "", signature = ""] = match;
  const signedHeaders = signedList.split(";");
  if (!signedHeaders.includes("host")) return { ok: false, failure: "malformed", message: "host must be a signed header" };
  const creds = lookup(accessKeyId);
  if (creds === undefined) return { ok: false, failure: "unknown-key", message: "The security token included in the request is invalid." };
  if (creds.expiresAt <= now) return { ok: false, failure: "expired-key", message: "The security token included in the request is expired" };
  if (creds.sessionToken !== undefined && headerValue(input.headers, "x-amz-security-token") !== creds.sessionToken) {
    return { ok: false, failure: "bad-token", message: "The security token included in the request is invalid." };
  }
  const amzDate = headerValue(input.headers, "x-amz-date");
  const signingDate = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (signingDate === undefined || !amzDate?.startsWith(date)) return { ok: false, failure: "malformed", message: "x-amz-date is missing or does not match the credential scope" };
  if (Math.abs(now - signingDate.getTime()) > 15 * 60_000) return { ok: false, failure: "stale", message: "Signature expired: the request time is more than 15 minutes from the server time" };

  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = headerValue(input.headers, name);
    if (value === undefined) return { ok: false, failure: "malformed", message: `signed header ${name} is missing` };
    headers[name] = value;
  }
  if (input.payloadHash !== undefined && headers["x-amz-content-sha256"] === undefined) headers["x-amz-content-sha256"] = input.payloadHash;
  const signer = new SignatureV4({
    service,
    region,
    credentials: { accessKeyId, secretAccessKey: creds.secretAccessKey, ...(creds.sessionToken === undefined ? {} : { sessionToken: creds.sessionToken }) },
    sha256: Hash.bind(null, "sha256"),
    uriEscapePath,
    applyChecksum: false,
  });
  const request = new HttpRequest({ method: input.method, hostname: input.host, path: input.path, query: input.query, headers, body: input.body });
  const signed = await signer.sign(request, { signingDate, signingRegion: region, signingService: service });
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers["authorization"] ?? ""))?.[1] ?? "";
  const signedBySigner = /SignedHeaders=([^,]+)/.exec(String(signed.headers["authorization"] ?? ""))?.[1] ?? "";
  if (signedBySigner !== signedList || expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
    return { ok: false, failure: "bad-signature", message: "The request signature we calculated does not match the signature you provided. Check your key and signing method." };
  }
  return { ok: true, credentials: creds, signedHeaders, region, service };
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value.join(",") : value;
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

export function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}
