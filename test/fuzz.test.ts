// A short run of scripts/fuzz.ts: seeded garbage through the RESP decoder, then through a live
// server over hundreds of connections. `bun scripts/fuzz.ts` runs the full 1,000,000 inputs.
import { expect, setDefaultTimeout, test } from "bun:test";
import { fuzzDecoder } from "../scripts/fuzz.ts";
import { fuzzLive } from "../scripts/fuzz-live.ts";

setDefaultTimeout(120_000);

const SEED = 0xf022;

test("20,000 decoder inputs: no crash, hang or runaway allocation; whole and split feeding agree", () => {
  const summary = fuzzDecoder({ inputs: 20_000, seed: SEED, inputMsMax: 10_000 });
  expect(summary.findings).toEqual([]);
  expect(summary.inputs).toBe(20_000);
  // The generator reaches both outcomes, so the run is not all rejects or all accepts.
  expect(summary.protocolErrors).toBeGreaterThan(1000);
  expect(summary.commands).toBeGreaterThan(1000);
  expect(summary.largestAllocationBytes).toBeLessThan(4 * 1024 * 1024);
});

test("300 garbage connections against a live server; a well-behaved client keeps working", async () => {
  const summary = await fuzzLive({ seed: SEED, connections: 300 });
  expect(summary.findings).toEqual([]);
  expect(summary.connections).toBe(300);
  expect(summary.closedByServer).toBeGreaterThan(0); // protocol errors really happened
  expect(summary.probeRounds).toBeGreaterThan(0); // the probe ran during the storm
  expect(summary.serverExitCode).toBe(0); // and the server still shuts down cleanly
});
