import { join } from "node:path";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createTestCertificate } from "../src/testing/tls.js";

/** Runs once before any worker starts: NODE_EXTRA_CA_CERTS is read only at process start. */
export default function setup(): () => void {
  const dir = join(process.cwd(), ".tmp", "tls");
  const cert = createTestCertificate(dir, ["sts.us-east-1.amazonaws.com", "login.microsoftonline.com"]);
  process.env["KEYLESS_TEST_TLS_DIR"] = dir;
  process.env["NODE_EXTRA_CA_CERTS"] = cert.caFile;
  const secretsDir = join(process.cwd(), ".tmp", "secrets");
  rmSync(secretsDir, { recursive: true, force: true });
  mkdirSync(secretsDir, { recursive: true });
  return () => {
    // Each vitest project runs this teardown: report once.
    const marker = join(secretsDir, ".reported");
    try {
      readFileSync(marker);
      return;
    } catch {
      writeFileSync(marker, "");
    }
    // The whole suite's leak check, summed over every test file (test/setup-secrets.ts).
    let texts = 0;
    let secrets = 0;
    let hits = 0;
    let files = 0;
    for (const f of readdirSync(secretsDir).filter((name) => name.endsWith(".json"))) {
      const r = JSON.parse(readFileSync(join(secretsDir, f), "utf8")) as { texts: number; secrets: number; hits: number };
      texts += r.texts;
      secrets += r.secrets;
      hits += r.hits;
      files++;
    }
    console.log(`secrets scan (whole suite): ${files} test files, ${texts} error renderings, events and stderr writes searched for ${secrets} secrets the emulators issued: ${hits} hits`);
    if (hits > 0) throw new Error(`${hits} secrets leaked`);
  };
}
