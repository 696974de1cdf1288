import { join } from "node:path";
import { createTestCertificate } from "../src/testing/tls.js";

/** Runs once before any worker starts: NODE_EXTRA_CA_CERTS is read only at process start. */
export default function setup(): void {
  const dir = join(process.cwd(), ".tmp", "tls");
  const cert = createTestCertificate(dir, ["sts.us-east-1.amazonaws.com", "login.microsoftonline.com"]);
  process.env["KEYLESS_TEST_TLS_DIR"] = dir;
  process.env["NODE_EXTRA_CA_CERTS"] = cert.caFile;
}
