import { describe, expect, it } from "vitest";
import { ExternalAccountClient } from "google-auth-library";
import { useEmulatedClouds } from "../clouds.js";

const ctx = useEmulatedClouds({}, (c) => ({ ...c.env, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined }));

describe("emulated Google STS and IAM Credentials, driven by google-auth-library", () => {
  it("accepts google-auth-library's AWS subject token (IMDSv2 credentials) and impersonates the bound service account", async () => {
    const client = ExternalAccountClient.fromJSON(ctx.clouds.gcpCredentialConfig("aws") as never);
    expect(client).not.toBeNull();
    const { token } = await client!.getAccessToken();
    expect(token).toMatch(/^ya29\.c\.sa-/);
    expect(ctx.clouds.googleTokens.get(token!)?.principal).toBe("keyless-target@keyless-demo.iam.gserviceaccount.com");
    const subject = ctx.clouds.awsSubjects.at(-1);
    expect(subject?.arn).toMatch(/assumed-role\/keyless-workload\//);
    // google-auth-library adds x-goog-cloud-target-resource after signing: it is not integrity-protected.
    expect(subject?.signedHeaders).not.toContain("x-goog-cloud-target-resource");
  });

  it("accepts an Azure managed identity token through a url-sourced config", async () => {
    const client = ExternalAccountClient.fromJSON(ctx.clouds.gcpCredentialConfig("azure") as never);
    const { token } = await client!.getAccessToken();
    expect(ctx.clouds.googleTokens.get(token!)?.kind).toBe("service-account");
  });
});
