import { afterAll, beforeAll, beforeEach } from "vitest";
import { clearSharedCaches } from "../src/core/refresh.js";
import { startEmulatedClouds, type EmulatedClouds, type EmulatedCloudsOptions } from "../src/testing/index.js";
import { withEnv } from "./env.js";

/**
 * Starts the emulated clouds for a test file, points the environment at them (`env`, default
 * `clouds.env`), and gives every test a clean slate: no shared cache, no counts, no faults.
 */
export function useEmulatedClouds(options: EmulatedCloudsOptions = {}, env: (clouds: EmulatedClouds) => Record<string, string | undefined> = (c) => c.env): { readonly clouds: EmulatedClouds } {
  const state: { clouds?: EmulatedClouds; restore?: () => void } = {};
  beforeAll(async () => {
    state.clouds = await startEmulatedClouds(options);
    state.restore = withEnv(env(state.clouds));
  });
  afterAll(async () => {
    state.restore?.();
    await state.clouds?.close();
  });
  beforeEach(() => {
    clearSharedCaches();
    state.clouds?.instrumentation.resetCounts();
    state.clouds?.instrumentation.clearFaults();
  });
  return {
    get clouds(): EmulatedClouds {
      if (state.clouds === undefined) throw new Error("the emulated clouds are not started yet (use them inside a test)");
      return state.clouds;
    },
  };
}
