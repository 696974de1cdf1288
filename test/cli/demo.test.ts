import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { distPath } from "../helpers.js";

describe("keyless demo", () => {
  it("runs all six directions with the real SDK clients and exits 0", async () => {
    const child = spawn(process.execPath, [distPath("cli.js"), "demo"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_EXTRA_CA_CERTS: undefined } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(out).toContain("6 of 6 directions working.");
    for (const d of ["GCP → AWS", "Azure → AWS", "AWS → GCP", "Azure → GCP", "GCP → Azure", "AWS → Azure"]) expect(out).toContain(`✓ ${d}`);
    expect(code).toBe(0);
  }, 120_000);
});
