#!/usr/bin/env node
/**
 * @module cli/main
 * The `keyless` command: credentials for tools that are not Node, the demo, and a doctor.
 */
import { subscribe } from "node:diagnostics_channel";
import { parseArgs } from "node:util";
import type { RefreshEvent } from "../core/refresh.js";
import { isKeylessError } from "../core/errors.js";
import type { Flags } from "./sources.js";

const HELP = `keyless: cross-cloud workload identity with no stored secret

Usage:
  keyless aws credential-process --from gcp|azure --role-arn ARN [options]
      AWS credential_process JSON (Version 1). Cached per user on disk (0600) until the refresh point.
      ~/.aws/config:  credential_process = npx keyless aws credential-process --from gcp --role-arn ARN
  keyless gcp executable --from azure --resource APP_ID_URI [--client-id ID]
      Google executable-sourced credential response (for credential_source.executable).
  keyless token-file --from gcp|azure|cognito --audience AUD --out PATH [--once]
      Keeps a token file fresh (atomic rename, 0600) until SIGTERM; for AWS_WEB_IDENTITY_TOKEN_FILE
      and AZURE_FEDERATED_TOKEN_FILE.
  keyless doctor [--to aws|gcp|azure] [--from gcp|azure|aws] [options] [--json]
      Walks a direction step by step and names the first failing step and its fix.
  keyless demo
      Starts emulated clouds (and azurite) and runs all six directions with the real SDK clients.

Options:
  --role-arn ARN            (aws) role to assume; default AWS_ROLE_ARN
  --region REGION           (aws) STS region; default AWS_REGION, else us-east-1
  --audience AUD            token audience (gcp source: default sts.amazonaws.com for AWS)
  --resource URI            (azure source) the App ID URI the other side trusts
  --client-id ID            (azure source) user-assigned managed identity; (doctor --to azure) the application
  --tenant-id ID            (doctor --to azure) the Entra tenant
  --identity-pool-id ID, --developer-provider-name NAME, --developer-user-id ID   (cognito source)
  --session-name NAME, --duration-seconds N, --no-cache   (credential-process)
  --config FILE, --service-account EMAIL, --allow-endpoint ORIGIN   (doctor --to gcp)
  --json                    machine-readable output (doctor)
  --help                    this text

Exit codes: 0 success; 1 a credential could not be obtained or a check failed; 2 usage error.
Secrets are printed only where printing them is the command's purpose (credential-process, executable).
`;

const OPTIONS = {
  from: { type: "string" },
  to: { type: "string" },
  "role-arn": { type: "string" },
  region: { type: "string" },
  audience: { type: "string" },
  resource: { type: "string" },
  "client-id": { type: "string" },
  "tenant-id": { type: "string" },
  "identity-pool-id": { type: "string" },
  "developer-provider-name": { type: "string" },
  "developer-user-id": { type: "string" },
  "session-name": { type: "string" },
  "duration-seconds": { type: "string" },
  "service-account": { type: "string" },
  "token-url": { type: "string" },
  "impersonation-url": { type: "string" },
  "authority-host": { type: "string" },
  scope: { type: "string" },
  config: { type: "string" },
  "allow-endpoint": { type: "string" },
  out: { type: "string" },
  once: { type: "boolean" },
  "no-cache": { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const print = (text: string) => process.stdout.write(`${text}\n`);
const log = (text: string) => process.stderr.write(`${text}\n`);

function describeError(error: unknown): string {
  if (isKeylessError(error)) return `${error.code} (${error.step}): ${error.message}${error.hint ? `\n  fix: ${error.hint}` : ""}`;
  return error instanceof Error ? error.message : String(error);
}

/** Long waits show progress on stderr: every scheduled retry of every refresh. */
function showRetries(): void {
  subscribe("keyless:refresh", (message) => {
    const e = message as RefreshEvent;
    if (e.type === "retry-scheduled") log(`keyless: ${e.step ?? e.name} failed (${e.code ?? "error"}); retrying in ${Math.round(e.delayMs ?? 0)} ms`);
  });
}

async function main(argv: string[]): Promise<number> {
  showRetries();
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    log(`keyless: ${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
    return 2;
  }
  const flags = parsed.values as Flags;
  const [command, sub] = parsed.positionals;
  if (command === undefined || command === "help" || (flags["help"] === true && command === undefined)) {
    print(HELP);
    return command === undefined && flags["help"] !== true ? 2 : 0;
  }
  if (flags["help"] === true) {
    print(HELP);
    return 0;
  }
  try {
    if (command === "aws" && sub === "credential-process") {
      const { credentialProcess } = await import("./credential-process.js");
      print(JSON.stringify(await credentialProcess(flags)));
      return 0;
    }
    if (command === "gcp" && sub === "executable") {
      const { gcpExecutable } = await import("./gcp-executable.js");
      const response = await gcpExecutable(flags);
      print(JSON.stringify(response));
      return response.success ? 0 : 1;
    }
    if (command === "token-file") {
      const { tokenFileCommand } = await import("./token-file.js");
      return await tokenFileCommand(flags, log);
    }
    if (command === "doctor") {
      const { doctor, formatDoctor } = await import("./doctor.js");
      const report = await doctor(flags);
      print(flags["json"] === true ? JSON.stringify(report, null, 2) : formatDoctor(report));
      return report.ok ? 0 : 1;
    }
    if (command === "demo") {
      const { runDemo, demoTlsDir } = await import("./demo.js");
      const { createTestCertificate } = await import("../testing/tls.js");
      const tls = createTestCertificate(demoTlsDir());
      if (process.env["NODE_EXTRA_CA_CERTS"] !== tls.caFile) {
        // Node reads NODE_EXTRA_CA_CERTS only at start: run the demo in a child that trusts the emulated clouds' CA.
        const { spawn } = await import("node:child_process");
        const child = spawn(process.execPath, [...process.execArgv, process.argv[1] ?? "", ...argv], { stdio: "inherit", env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caFile } });
        return await new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
      }
      return await runDemo();
    }
  } catch (error) {
    log(`keyless: ${describeError(error)}`);
    return isKeylessError(error) && error.code === "ERR_CONFIG" && error.step === "cli" ? 2 : 1;
  }
  log(`keyless: unknown command ${JSON.stringify([command, sub].filter(Boolean).join(" "))}\n\n${HELP}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    log(`keyless: ${describeError(error)}`);
    process.exitCode = 1;
  },
);
