import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { distPath } from "./helpers.js";

const ENTRIES: Record<string, string[]> = {
  index: ["KeylessError", "RefreshingCache", "gcpIdentityToken", "azureManagedIdentityToken", "tokenFile", "cognitoDeveloperToken", "decodeJwt"],
  aws: ["fromGcpWorkload", "fromAzureWorkload", "fromWebIdentity", "KeylessError"],
  gcp: ["AwsWorkloadClient", "AzureWorkloadClient", "fromAwsWorkload", "fromAzureWorkload", "fromCredentialConfig"],
  azure: ["FederatedCredential", "fromGcpWorkload", "fromAwsWorkload"],
  testing: ["startEmulatedClouds", "startAzurite", "ManualClock", "defaultScenario"],
};

describe("the published package", () => {
  it.each(Object.entries(ENTRIES))("entry %s loads as CommonJS and as ESM with its exports", (entry, names) => {
    for (const [flavor, code] of [
      ["cjs", `const m = require(${JSON.stringify(distPath(`${entry}.cjs`))}); console.log(JSON.stringify(Object.keys(m)))`],
      ["esm", `const m = await import(${JSON.stringify(distPath(`${entry}.js`))}); console.log(JSON.stringify(Object.keys(m)))`],
    ] as const) {
      const r = spawnSync(process.execPath, flavor === "esm" ? ["--input-type=module", "-e", code] : ["-e", code], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      const keys = JSON.parse(r.stdout) as string[];
      for (const name of names) expect(keys, `${entry} (${flavor})`).toContain(name);
    }
  });

  it("every entry in the exports map has ESM, CommonJS and type files", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { exports: Record<string, { import?: { types: string; default: string }; require?: { types: string; default: string } }> };
    for (const [key, value] of Object.entries(pkg.exports)) {
      if (key === "./package.json") continue;
      for (const file of [value.import?.types, value.import?.default, value.require?.types, value.require?.default]) {
        expect(file, key).toBeDefined();
        expect(() => readFileSync(file as string)).not.toThrow();
      }
    }
  });

  it("a target entry loads no other cloud's SDK and nothing of keyless/testing", () => {
    const checks: Array<[string, RegExp]> = [
      ["aws.cjs", /node_modules\/(@google-cloud|google-auth-library|@azure|jose)\//],
      ["gcp.cjs", /node_modules\/(@azure|@aws-sdk\/client-|jose)\//],
      ["azure.cjs", /node_modules\/(@google-cloud|google-auth-library|@aws-sdk\/client-|jose)\//],
    ];
    for (const [file, foreign] of checks) {
      const r = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(distPath(file))}); console.log(JSON.stringify(Object.keys(require.cache)))`], { encoding: "utf8" });
      const loaded = JSON.parse(r.stdout) as string[];
      expect(loaded.filter((m) => foreign.test(m)), file).toEqual([]);
      expect(loaded.filter((m) => /dist\/testing/.test(m)), file).toEqual([]);
      expect(readFileSync(distPath(file), "utf8")).not.toMatch(/SignJWT|startEmulatedClouds/);
    }
  });
});
