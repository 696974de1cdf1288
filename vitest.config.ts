import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/setup-secrets.ts"],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    pool: "forks",
    reporters: ["default", "json"],
    outputFile: { json: ".tmp/vitest-results.json" },
    projects: [
      { extends: true, test: { name: "keyless", include: ["test/**/*.test.ts"] } },
      {
        // keyless/gcp extends the user's own google-auth-library: check the other supported major too,
        // with the current @google-cloud/* clients (which bring their own copy) on top.
        extends: true,
        test: { name: "google-auth-library@10", include: ["test/gcp/e2e.test.ts", "test/gcp/errors.test.ts"], env: { KEYLESS_EXPECT_GAL: "10" } },
        resolve: { alias: { "google-auth-library": "google-auth-library-v10" } },
      },
    ],
  },
});
