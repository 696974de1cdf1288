#!/usr/bin/env node
/**
 * @module cli/main
 * The `keyless` command.
 */
const HELP = `keyless: cross-cloud workload identity with no stored secret

Usage:
  keyless demo        Start the emulated clouds and run every direction end to end
  keyless --help      This text

Exit codes: 0 success, 1 a direction or check failed, 2 usage error.
`;

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === "demo") {
    if (argv.includes("--help")) {
      process.stdout.write("keyless demo: starts the emulated clouds on loopback and runs each direction with the real vendor SDK clients.\n");
      return 0;
    }
    const { runDemo, demoTlsDir } = await import("./demo.js");
    const { createTestCertificate } = await import("../testing/tls.js");
    const tls = createTestCertificate(demoTlsDir());
    if (process.env["NODE_EXTRA_CA_CERTS"] !== tls.caFile) {
      // Node reads NODE_EXTRA_CA_CERTS only at start: run the demo in a child that trusts the emulated clouds' CA.
      const { spawn } = await import("node:child_process");
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1] ?? "", ...argv], { stdio: "inherit", env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caFile } });
      return new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
    }
    return runDemo();
  }
  process.stderr.write(`keyless: unknown command ${JSON.stringify(command)}\n\n${HELP}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`keyless: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
