import { describe, expect, it } from "vitest";
import { createServer as createTcpServer, connect as tcpConnect, type AddressInfo, type Socket } from "node:net";
import { request as httpRequest } from "node:http";
import { fromGcpWorkload } from "../../src/aws/index.js";
import { startServer, testCertificate } from "../helpers.js";
import { useEmulatedClouds } from "../clouds.js";
import { withEnv } from "../env.js";

const ctx = useEmulatedClouds();

describe("the STS call made through @aws-sdk/client-sts uses keyless's transport", () => {
  it("goes through HTTPS_PROXY with CONNECT to the regional endpoint (no endpoint override)", async () => {
    const tls = testCertificate();
    // Stands in for sts.us-east-1.amazonaws.com (the test certificate names it): forwards to the emulated STS.
    const sts = new URL(ctx.clouds.urls.awsSts);
    const front = await startServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const forward = httpRequest({ host: sts.hostname, port: sts.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        forward.end(Buffer.concat(chunks));
      });
    }, tls);
    const connects: string[] = [];
    const sockets = new Set<Socket>();
    const proxy = createTcpServer((client) => {
      sockets.add(client);
      client.once("data", (head) => {
        connects.push(head.toString().split("\r\n")[0] ?? "");
        const upstream = tcpConnect(front.port, "127.0.0.1", () => {
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
          upstream.pipe(client);
          client.pipe(upstream);
        });
        sockets.add(upstream);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const restore = withEnv({ AWS_ENDPOINT_URL_STS: undefined, AWS_ENDPOINT_URL: undefined, HTTPS_PROXY: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, NO_PROXY: undefined });
    try {
      const credentials = await fromGcpWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-gcp", region: "us-east-1", ca: tls.ca })();
      expect(credentials.accessKeyId).toMatch(/^ASIA/);
      expect(connects).toEqual(["CONNECT sts.us-east-1.amazonaws.com:443 HTTP/1.1"]);
      // The metadata server is never proxied.
      expect(ctx.clouds.instrumentation.count("gcp.metadata.identity")).toBe(1);
      // Other partitions resolve to their own regional endpoints (the TLS handshake then fails here: only the CONNECT matters).
      for (const region of ["cn-north-1", "us-gov-west-1"]) {
        await fromGcpWorkload({ roleArn: "arn:aws:iam::111122223333:role/keyless-from-gcp", region, ca: tls.ca, retry: { maxAttempts: 1 }, timeoutMs: 2_000 })().catch(() => undefined);
      }
      expect(connects.slice(1)).toEqual(["CONNECT sts.cn-north-1.amazonaws.com.cn:443 HTTP/1.1", "CONNECT sts.us-gov-west-1.amazonaws.com:443 HTTP/1.1"]);
    } finally {
      restore();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => proxy.close(() => r()));
      await front.close();
    }
  });
});
