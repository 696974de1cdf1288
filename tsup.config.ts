import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/index.ts",
    aws: "src/aws/index.ts",
    gcp: "src/gcp/index.ts",
    azure: "src/azure/index.ts",
    testing: "src/testing/index.ts",
    cli: "src/cli/main.ts",
  },
  format: ["esm", "cjs"],
  dts: { entry: { index: "src/index.ts", aws: "src/aws/index.ts", gcp: "src/gcp/index.ts", azure: "src/azure/index.ts", testing: "src/testing/index.ts" } },
  target: "node20",
  platform: "node",
  splitting: true,
  sourcemap: false,
  clean: true,
  treeshake: true,
  // jose is bundled into keyless/testing only, so the CommonJS build never require()s an ES module.
  noExternal: ["jose"],
  // Vendor SDKs stay external: loaded from the user's install, lazily, and never bundled.
  external: [/^@aws-sdk\//, /^@smithy\//, /^@azure\//, /^@google-cloud\//, "google-auth-library", "azurite", "https-proxy-agent"],
});
