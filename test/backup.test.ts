// `ezra backup` against a server under load: the copy holds every task acknowledged before the
// backup began, restores into a new data dir as a working queue, and an existing FILE is refused.
import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Redis from "ioredis";
import { BUN, ROOT, removeDir, startEzra, tempDir } from "./helpers/servers.ts";

const PRODUCERS = 3;
const TASKS_BEFORE_BACKUP = 300;
const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

function dir(): string {
  const d = tempDir("ezra-backup-");
  dirs.push(d);
  return d;
}

function client(port: number): Redis {
  const redis = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  return redis;
}

async function runBackup(args: string[]) {
  const proc = Bun.spawn([BUN, join(ROOT, "src", "main.ts"), "backup", ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

/** Compares two stream ids `ms-seq` as numbers. */
function idOrder(a: string, b: string): number {
  const [am, as] = a.split("-").map(BigInt);
  const [bm, bs] = b.split("-").map(BigInt);
  return am !== bm ? (am > bm ? 1 : -1) : as === bs ? 0 : as > bs ? 1 : -1;
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

test("a backup taken under load restores into a working queue holding every task acknowledged before it", async () => {
  const server = await startEzra({ dataDir: dir() });
  const producers = Array.from({ length: PRODUCERS }, () => client(server.port));
  const worker = client(server.port);
  const before = new Map<string, string>();
  for (let i = 0; i < TASKS_BEFORE_BACKUP; i++) {
    const payload = `before-${i}`;
    before.set((await producers[i % PRODUCERS].xadd("jobs", "*", "p", payload)) as string, payload);
  }
  // Some tasks done, some in flight, at the moment of the copy.
  const claimed = (await worker.xreadgroup("GROUP", "g", "w", "COUNT", 20, "STREAMS", "jobs", ">")) as [string, [string, string[]][]][];
  const ids = claimed[0][1].map(([id]) => id);
  expect(await worker.xack("jobs", "g", ...ids.slice(0, 10))).toBe(10);

  let loading = true;
  let addedDuring = 0;
  const load = producers.map(async (p, n) => {
    for (let i = 0; loading; i++) {
      await p.xadd("jobs", "*", "p", `during-${n}-${i}`);
      addedDuring++;
    }
  });
  const out = join(dir(), "jobs.backup");
  const result = await runBackup(["--data-dir", server.dataDir, "--out", out]);
  loading = false;
  await Promise.all(load);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/ezra backup: wrote .*jobs\.backup: .* tasks in 1 queues, schema version \d+, quick_check ok/);
  expect(addedDuring).toBeGreaterThan(0);
  expect(readdirSync(join(out, ".."))).toEqual(["jobs.backup"]); // no partial file left behind

  // Restore: the file becomes ezra.db in a new data dir.
  const restoredDir = dir();
  writeFileSync(join(restoredDir, "ezra.db"), readFileSync(out));
  const restored = await startEzra({ dataDir: restoredDir });
  const r = client(restored.port);
  const entries = (await r.xrange("jobs", "-", "+")) as [string, string[]][];
  const onDisk = new Map(entries.map(([id, fields]) => [id, fields[1]]));
  for (const [id, payload] of before) expect(onDisk.get(id)).toBe(payload);
  const info = (await r.call("XINFO", "STREAM", "jobs")) as unknown[];
  const count = (name: string) => info[info.indexOf(name) + 1];
  expect(count("ezra-done")).toBe(10);
  // In flight at copy time: back to available on start, like after any restart.
  expect(count("ezra-in-flight")).toBe(0);
  expect(await r.xlen("jobs")).toBe(entries.length - 10);
  // The queue works: new ids follow the copied ones, and tasks can be claimed and acked.
  const newId = (await r.xadd("jobs", "*", "p", "after restore")) as string;
  expect(idOrder(newId, entries[entries.length - 1][0])).toBeGreaterThan(0);
  const got = (await r.xreadgroup("GROUP", "g", "w2", "COUNT", 1, "STREAMS", "jobs", ">")) as [string, [string, string[]][]][];
  expect(got[0][1][0][0]).toBe(ids[10]); // the oldest task not acked before the backup
  expect(await r.xack("jobs", "g", got[0][1][0][0])).toBe(1);
  r.disconnect();
  expect(await restored.stop()).toBe(0);

  for (const c of [...producers, worker]) c.disconnect();
  expect(await server.stop()).toBe(0);
}, 60_000);

test("backup refuses to overwrite an existing file and leaves it as it was", async () => {
  const server = await startEzra({ dataDir: dir() });
  const out = join(dir(), "existing.db");
  writeFileSync(out, "precious");
  const hash = sha256(out);
  const result = await runBackup(["--data-dir", server.dataDir, "--out", out]);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain("already exists; refusing to overwrite it");
  expect(sha256(out)).toBe(hash);
  expect(await server.stop()).toBe(0);
});

test("backup usage errors: a missing data dir or --out exits 2 naming the flag", async () => {
  const empty = dir();
  const noDb = await runBackup(["--data-dir", empty, "--out", join(empty, "x.db")]);
  expect(noDb.code).toBe(2);
  expect(noDb.stderr).toContain("--data-dir:");
  const noOut = await runBackup(["--data-dir", empty]);
  expect(noOut.code).toBe(2);
  expect(noOut.stderr).toContain("--out: required");
  const typo = await runBackup(["--data-dir", empty, "--output", "x"]);
  expect(typo.code).toBe(2);
  expect(typo.stderr).toContain("--output: unknown flag");
});
