/**
 * @module sources/sts-client
 * `@aws-sdk/client-sts` clients for keyless's own calls, loaded on first use: one attempt per call
 * and keyless's transport (agents, proxy, timeouts), so keyless's retry policy is the only one.
 */
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import type { STSClient } from "@aws-sdk/client-sts";
import { agentsFor, type TransportOptions } from "../core/http.js";
import { regionalEndpoint } from "./aws-endpoints.js";
import { cacheKey } from "../core/refresh.js";

export const DEFAULT_STS_TIMEOUT_MS = 10_000;

const clients = new Map<string, Promise<STSClient>>();

/** One client per region, endpoint, transport settings and credentials (agents, CAs and providers by reference), reused across refreshes. */
export function stsClient(region: string, endpoint: URL | undefined, transport: TransportOptions, credentials?: AwsCredentialIdentityProvider): Promise<STSClient> {
  const key = cacheKey("sts-client", { region, endpoint: endpoint?.href, ...transport, credentials });
  let client = clients.get(key);
  if (client === undefined) {
    client = (async () => {
      const [{ STSClient }, { NodeHttpHandler }] = await Promise.all([import("@aws-sdk/client-sts"), import("@smithy/node-http-handler")]);
      const agents = await agentsFor(endpoint ?? regionalEndpoint("sts", region), transport);
      return new STSClient({
        region,
        ...(endpoint === undefined ? {} : { endpoint: endpoint.href }),
        ...(credentials === undefined ? {} : { credentials }),
        maxAttempts: 1,
        requestHandler: new NodeHttpHandler({ ...agents, connectionTimeout: transport.connectTimeoutMs ?? 3_000, requestTimeout: transport.timeoutMs ?? DEFAULT_STS_TIMEOUT_MS }),
      });
    })();
    clients.set(key, client);
    client.catch(() => clients.delete(key));
  }
  return client;
}

/** Runs `send` with a total timeout (the SDK's request timeout is per socket inactivity). */
export async function withTimeout<T>(timeoutMs: number | undefined, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs ?? DEFAULT_STS_TIMEOUT_MS);
  try {
    return await send(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}
