// A capped stream nobody reads (XADD ... MAXLEN) trims a task for every push: the SQLite
// driver's in-memory waiting order must not keep an entry per trimmed task forever, and what it
// still hands out must be exactly the tasks left.
import { afterAll, expect, test } from "bun:test";
import { openStorage } from "../../src/store/open.ts";
import { removeDir, tempDir } from "../helpers/servers.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

test("trimmed and deleted waiting tasks do not pile up in the waiting order", () => {
  const dataDir = tempDir("ezra-stale-");
  dirs.push(dataDir);
  const driver = openStorage({ dataDir, durability: "normal" });
  const entriesOf = (key: number) => (driver as unknown as { waiting: { get(k: number): { entries: number } | undefined } }).waiting.get(key)?.entries ?? 0;
  driver.begin();
  driver.createQueue("capped", 0);
  driver.commit(true);
  const pushes = 20_000;
  const kept = 10;
  for (let n = 1; n <= pushes; n++) {
    driver.begin();
    driver.insertTask({ queue: "capped", ms: n, seq: 0, fields: `["n","${n}"]`, maxAttempts: null, expiresAt: null, createdAt: 0 });
    driver.trimToLength("capped", kept, Number.MAX_SAFE_INTEGER);
    if (n % 7 === 0) driver.deleteTask("capped", { ms: n, seq: 0 }); // XDEL of the newest now and then
    driver.commit(true);
  }
  // Queue id 1: its tasks are filed under key 2 (schema.sql).
  expect(entriesOf(2)).toBeLessThan(2 * kept + 1024 + 1);
  const waiting = driver.countState("capped", "available");
  driver.begin();
  const delivered = driver.deliver("capped", "available", 100, {
    state: "in_flight", attemptsAdded: 1, worker: "w", group: "g", leaseUntil: 1e13, deliveredAt: 1, finishedAt: null, purgeAt: null,
  });
  driver.commit(true);
  expect(delivered.length).toBe(waiting);
  expect(delivered.map((t) => t.ms)).toEqual(driver.range("capped", { ms: 0, seq: 0 }, { ms: pushes, seq: 0 }, 100, false).map((t) => t.ms));
  driver.close();
});
