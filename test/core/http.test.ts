import { afterEach, describe, expect, it } from "vitest";
import { createServer, type Socket } from "node:net";
import { connect as tcpConnect } from "node:net";
import { spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { assertEndpointAllowed, request, retryAfterMs } from "../../src/core/http.js";
import { KeylessError } from "../../src/core/errors.js";
import { distPath, startServer, testCertificate, type TestServer } from "../helpers.js";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  delete process.env["HTTPS_PROXY"];
  delete process.env["NO_PROXY"];
});
async function serve(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}

describe("core/http", () => {
  it("returns status, body and the Date header, and reuses one keep-alive connection", async () => {
    const s = await serve((_req, res) => {
      res.setHeader("date", "Wed, 01 Jan 2026 00:00:00 GMT");
      res.end("hello");
    });
    const first = await request({ url: `${s.url}/a`, step: "t" });
    await request({ url: `${s.url}/b`, step: "t" });
    expect(first.status).toBe(200);
    expect(first.body.toString()).toBe("hello");
    expect(first.date).toBe(Date.UTC(2026, 0, 1));
    expect(s.requests).toHaveLength(2);
    expect(s.connections).toBe(1);
  });

  it("times out when headers never arrive, within the configured bound", async () => {
    const s = await serve(() => {
      /* never answers */
    });
    const started = Date.now();
    const error = await request({ url: s.url, step: "t", timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_HTTP_TIMEOUT", retryable: true, step: "t" });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("times out when the body stalls", async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("partial");
    });
    await expect(request({ url: s.url, step: "t", timeoutMs: 200 })).rejects.toMatchObject({ code: "ERR_HTTP_TIMEOUT" });
  });

  it("reports a refused connection as a retryable connection error", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    await expect(request({ url: `http://127.0.0.1:${port}/`, step: "t" })).rejects.toMatchObject({ code: "ERR_HTTP_CONNECTION", retryable: true });
  });

  it("reports a body cut off mid-way", async () => {
    const s = await serve((req, res) => {
      res.writeHead(200, { "content-length": "1000" });
      res.write("x".repeat(10));
      setTimeout(() => req.socket.destroy(), 10);
    });
    await expect(request({ url: s.url, step: "t" })).rejects.toMatchObject({ code: "ERR_HTTP_CONNECTION", retryable: true });
  });

  it("caps the response size, declared or streamed", async () => {
    const big = "x".repeat(2_000_000);
    const declared = await serve((_req, res) => res.end(big));
    await expect(request({ url: declared.url, step: "t" })).rejects.toMatchObject({ code: "ERR_RESPONSE_TOO_LARGE" });
    const chunked = await serve((_req, res) => {
      res.write(big.slice(0, 600_000));
      res.end(big.slice(600_000));
    });
    await expect(request({ url: chunked.url, step: "t" })).rejects.toMatchObject({ code: "ERR_RESPONSE_TOO_LARGE" });
    await expect(request({ url: chunked.url, step: "t", maxResponseBytes: 3_000_000 })).resolves.toMatchObject({ status: 200 });
  });

  it("never follows a redirect", async () => {
    const target = await serve((_req, res) => res.end("should not be reached"));
    const s = await serve((_req, res) => {
      res.writeHead(307, { location: `${target.url}/steal?token=abc` });
      res.end();
    });
    const error = (await request({ url: s.url, step: "t" }).catch((e: unknown) => e)) as KeylessError;
    expect(error.code).toBe("ERR_HTTP_REDIRECT");
    expect(target.requests).toHaveLength(0);
    expect(JSON.stringify(error.details)).not.toContain("token=abc");
  });

  it("refuses plain http except to loopback and the metadata addresses, before any request", () => {
    expect(() => assertEndpointAllowed("http://sts.amazonaws.com/", "t")).toThrow(expect.objectContaining({ code: "ERR_ENDPOINT_NOT_ALLOWED" }));
    expect(() => assertEndpointAllowed("http://10.0.0.5/", "t")).toThrow(expect.objectContaining({ code: "ERR_ENDPOINT_NOT_ALLOWED" }));
    expect(() => assertEndpointAllowed("ftp://127.0.0.1/", "t")).toThrow(expect.objectContaining({ code: "ERR_ENDPOINT_NOT_ALLOWED" }));
    expect(() => assertEndpointAllowed("https://user:pw@sts.amazonaws.com/", "t")).toThrow(expect.objectContaining({ code: "ERR_ENDPOINT_NOT_ALLOWED" }));
    for (const ok of ["https://sts.amazonaws.com/", "http://127.0.0.1:8080/", "http://[::1]/", "http://localhost/", "http://169.254.169.254/", "http://metadata.google.internal/", "http://169.254.170.2/v2/credentials", "http://[fd00:ec2::254]/"]) {
      expect(assertEndpointAllowed(ok, "t").href).toBeTruthy();
    }
  });

  it("trusts an injected CA for https endpoints, and only then", async () => {
    // A CA of its own, not the one NODE_EXTRA_CA_CERTS names for the rest of the suite.
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { createTestCertificate } = await import("../../src/testing/tls.js");
    const tls = createTestCertificate(mkdtempSync(join(tmpdir(), "keyless-ca-")));
    const s = await serve((_req, res) => res.end("secure"), tls);
    await expect(request({ url: s.url, step: "t" })).rejects.toMatchObject({ code: "ERR_HTTP_CONNECTION" });
    const response = await request({ url: s.url, step: "t", ca: tls.ca });
    expect(response.body.toString()).toBe("secure");
  });

  it("tunnels https through HTTPS_PROXY with CONNECT, honours NO_PROXY and never proxies loopback", async () => {
    const tls = testCertificate();
    const upstream = await serve((req, res) => res.end(`reached ${req.headers.host}`), tls);
    const connects: string[] = [];
    const sockets = new Set<Socket>();
    const proxy = createServer((client: Socket) => {
      sockets.add(client);
      client.once("data", (head) => {
        const line = head.toString().split("\r\n")[0] ?? "";
        connects.push(line);
        const server = tcpConnect(upstream.port, "127.0.0.1", () => {
          sockets.add(server);
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
          server.pipe(client);
          client.pipe(server);
        });
        server.on("error", () => client.destroy());
        client.on("error", () => server.destroy());
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      process.env["HTTPS_PROXY"] = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const viaProxy = await request({ url: "https://sts.us-east-1.amazonaws.com/", step: "t", ca: tls.ca });
      expect(viaProxy.body.toString()).toBe("reached sts.us-east-1.amazonaws.com");
      expect(connects).toEqual(["CONNECT sts.us-east-1.amazonaws.com:443 HTTP/1.1"]);
      await request({ url: upstream.url, step: "t", ca: tls.ca }); // loopback: direct
      expect(connects).toHaveLength(1);
      process.env["NO_PROXY"] = ".amazonaws.com";
      await expect(request({ url: "https://sts.us-east-1.amazonaws.com/", step: "t", ca: tls.ca, connectTimeoutMs: 500, timeoutMs: 1_000 })).rejects.toBeInstanceOf(KeylessError);
      expect(connects).toHaveLength(1);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  it("honours an abort signal mid-request", async () => {
    const s = await serve(() => {
      /* never answers */
    });
    const controller = new AbortController();
    const pending = request({ url: s.url, step: "t", signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ code: "ERR_ABORTED" });
  });

  it("reads Retry-After in seconds and as a date", () => {
    const base = { status: 429, body: Buffer.alloc(0), date: undefined };
    expect(retryAfterMs({ ...base, headers: { "retry-after": "3" } })).toBe(3_000);
    expect(retryAfterMs({ ...base, headers: { "retry-after": new Date(10_000).toUTCString() } }, 5_000)).toBe(5_000);
    expect(retryAfterMs({ ...base, headers: {} })).toBeUndefined();
  });

  it("an idle keep-alive socket and a cached credential never keep the process alive", async () => {
    const jwt = `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600 })).toString("base64url")}.`;
    const s = await serve((_req, res) => {
      res.setHeader("metadata-flavor", "Google");
      res.end(jwt);
    });
    const script = `
      const { gcpIdentityToken, RefreshingCache } = await import(${JSON.stringify(distPath("index.js"))});
      const source = gcpIdentityToken({ audience: "x", metadataHost: ${JSON.stringify(`127.0.0.1:${s.port}`)} });
      const cache = new RefreshingCache(async () => ({ value: await source(), expiresAt: Date.now() + 3_600_000 }), { name: "child" });
      await cache.get();
      console.log((await cache.get()).length > 0 ? "ok" : "empty");`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(out.trim()).toBe("ok");
    expect(code).toBe(0);
    // The server keeps idle sockets for 5 s; the child exited without waiting for it, or for any refresh timer.
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(s.connections).toBe(1);
  });
});
