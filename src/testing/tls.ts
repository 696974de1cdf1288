/**
 * @module testing/tls
 * A throwaway certificate authority and server certificate for the emulated clouds' https
 * endpoints (Azure SDKs refuse bearer tokens over http). Made with the `openssl` binary.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

/** PEM material for an https server and the CA its clients must trust. */
export interface TestCertificate {
  /** CA certificate (PEM): hand it to `NODE_EXTRA_CA_CERTS` or keyless's `ca` option. */
  ca: string;
  /** Server certificate (PEM), valid for `localhost`, 127.0.0.1, ::1 and any extra names. */
  cert: string;
  /** Server private key (PEM). */
  key: string;
  /** Files holding the same, for tools that take paths (azurite, `NODE_EXTRA_CA_CERTS`). */
  caFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * Creates (or reuses, when `dir` already holds one for the same names) a CA and a server certificate.
 * @param dir Folder for the PEM files; created if missing.
 * @param extraNames Further DNS names the server certificate is valid for.
 */
export function createTestCertificate(dir: string, extraNames: readonly string[] = []): TestCertificate {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = { caFile: join(dir, "ca.pem"), caKey: join(dir, "ca-key.pem"), certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem"), csr: join(dir, "server.csr"), ext: join(dir, "server.ext"), names: join(dir, "names.txt") };
  const names = ["localhost", ...extraNames];
  const namesLine = names.join(",");
  const reuse = existsSync(files.certFile) && existsSync(files.names) && readFileSync(files.names, "utf8") === namesLine;
  if (!reuse) {
    const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3", "-subj", "/CN=keyless test CA", "-keyout", files.caKey, "-out", files.caFile);
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", "/CN=localhost", "-keyout", files.keyFile, "-out", files.csr);
    const san = [...names.map((n) => `DNS:${n}`), "IP:127.0.0.1", "IP:0:0:0:0:0:0:0:1"].join(",");
    writeFileSync(files.ext, `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
    openssl("x509", "-req", "-in", files.csr, "-CA", files.caFile, "-CAkey", files.caKey, "-CAcreateserial", "-days", "3", "-sha256", "-extfile", files.ext, "-out", files.certFile);
    writeFileSync(files.names, namesLine);
  }
  return {
    ca: readFileSync(files.caFile, "utf8"),
    cert: readFileSync(files.certFile, "utf8"),
    key: readFileSync(files.keyFile, "utf8"),
    caFile: files.caFile,
    certFile: files.certFile,
    keyFile: files.keyFile,
  };
}
