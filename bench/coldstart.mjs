// Cold start: a fresh `node` process importing the vendor SDK client alone, versus the same plus
// the keyless entry; median of interleaved runs. And what each entry loads and weighs.
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ENTRIES = [
  { entry: "keyless/aws", file: "aws.cjs", vendor: "@aws-sdk/client-s3", foreign: /node_modules\/(@google-cloud|google-auth-library|@azure)\// },
  { entry: "keyless/gcp", file: "gcp.cjs", vendor: "@google-cloud/storage", foreign: /node_modules\/(@azure|@aws-sdk\/client-)/ },
  { entry: "keyless/azure", file: "azure.cjs", vendor: "@azure/storage-blob", foreign: /node_modules\/(@google-cloud|google-auth-library|@aws-sdk\/client-)/ },
];

function run(code) {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ["-e", code], { cwd: root, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`cold start run failed: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The entry file and the chunks it requires, transitively. */
function ownFiles(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(join(root, "dist", file), "utf8");
  for (const m of text.matchAll(/require\(["']\.\/([^"']+)["']\)/g)) ownFiles(m[1], seen);
  return seen;
}

export function coldStart(runs = 41) {
  const results = [];
  for (const e of ENTRIES) {
    const vendorOnly = `require(${JSON.stringify(e.vendor)})`;
    const withKeyless = `require(${JSON.stringify(e.vendor)});require(${JSON.stringify(join(root, "dist", e.file))})`;
    run(vendorOnly);
    run(withKeyless);
    const a = [];
    const b = [];
    for (let i = 0; i < runs; i++) {
      a.push(run(vendorOnly).ms);
      b.push(run(withKeyless).ms);
    }
    const loaded = run(`require(${JSON.stringify(join(root, "dist", e.file))});console.log(JSON.stringify(Object.keys(require.cache)))`).stdout;
    const modules = JSON.parse(loaded);
    const foreign = modules.filter((m) => e.foreign.test(m));
    const files = [...ownFiles(e.file)];
    const bytes = files.reduce((n, f) => n + statSync(join(root, "dist", f)).size, 0);
    const vendorMs = median(a);
    const withMs = median(b);
    results.push({ entry: e.entry, vendor: e.vendor, vendorMs, withMs, addedMs: withMs - vendorMs, addedPct: ((withMs - vendorMs) / vendorMs) * 100, foreign, nodeModulesLoaded: modules.filter((m) => m.includes("node_modules")).length, ownKiB: bytes / 1024, ownFiles: files.length });
  }
  return results;
}
