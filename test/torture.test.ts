// A short crash-consistency run (scripts/torture.ts has the long one): the server is SIGKILLed
// mid-load a few times per durability mode and nothing a client was told may be lost or undone.
import { expect, test } from "bun:test";
import { runTorture } from "../scripts/torture.ts";

const ROUNDS = 3;
const SECONDS_PER_ROUND = 1;

for (const durability of ["full", "normal"] as const) {
  test(`kill -9 during load loses no replied XADD and undoes no replied XACK (durability ${durability})`, async () => {
    const summary = await runTorture({
      rounds: ROUNDS,
      seconds: SECONDS_PER_ROUND,
      durability,
      seed: durability === "full" ? 17 : 42,
      producers: 2,
      consumers: 2,
      log: () => {},
    });
    console.log(`torture ${durability}: ${JSON.stringify(summary)}`);
    expect(summary.kills).toBeGreaterThanOrEqual(ROUNDS);
    expect(summary.addsReplied).toBeGreaterThan(0);
    expect(summary.lost).toBe(0);
    expect(summary.deliveredAfterAck).toBe(0);
    expect(summary.wrongPayload).toBe(0);
    expect(summary.acksRefused).toBe(0);
    expect(summary.leftOver).toBe(0);
    expect(summary.doneAtEnd).toBe(summary.tasksProcessed);
    expect(summary.tasksProcessed).toBeGreaterThanOrEqual(summary.addsReplied);
    expect(summary.ok).toBe(true);
  }, 60_000);
}
