// Runs in every test worker: collects every KeylessError (all its renderings), every refresh event
// and everything written to stderr, and checks that none contains a secret any emulator issued.
import { subscribe } from "node:diagnostics_channel";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll } from "vitest";
import type { KeylessError } from "../src/core/errors.js";
import type { EmulatedClouds } from "../src/testing/index.js";

const texts: string[] = [];
const clouds: EmulatedClouds[] = [];
subscribe("keyless:error", (message) => {
  const e = message as KeylessError;
  texts.push(e.message, String(e), inspect(e, { depth: 6 }), e.hint ?? "", JSON.stringify(e.details ?? {}));
});
subscribe("keyless:refresh", (event) => texts.push(JSON.stringify(event)));
subscribe("keyless:testing:clouds", (c) => clouds.push(c as EmulatedClouds));
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  texts.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
  return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stderr.write;

afterAll(() => {
  const secrets = new Set<string>();
  for (const c of clouds) for (const s of [...c.secrets(), ...c.googleTokens.keys()]) if (s.length >= 16) secrets.add(s);
  const corpus = texts.join("\n");
  const hits = [...secrets].filter((s) => corpus.includes(s));
  const dir = join(process.cwd(), ".tmp", "secrets");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`), JSON.stringify({ texts: texts.length, secrets: secrets.size, hits: hits.length }));
  if (hits.length > 0) throw new Error(`${hits.length} secret(s) issued by the emulators appeared in errors, events or stderr`);
});
