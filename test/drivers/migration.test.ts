// Schema 1 -> 2: a data dir written by the previous release (one `tasks` table, text states)
// opens, is migrated in place with progress lines, and keeps every task, state, group and
// consumer; a kill -9 in the middle of migrating a large file loses nothing either.
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { SCHEMA_VERSION } from "../../src/store/sqlite/migrate.ts";
import v1Schema from "../../src/store/sqlite/migrations/v1.sql" with { type: "text" };
import schema from "../../src/store/sqlite/schema.sql" with { type: "text" };
import { connectPlain } from "../helpers/plain-client.ts";
import { BUN, ROOT, removeDir, startEzra, tempDir } from "../helpers/servers.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

const NOW = 1_700_000_000_000;

/** A schema-1 ezra.db: queue `jobs` with `bulk` tasks (90% available, 5% in flight, 5% done), a dead letter, groups, consumers. */
function writeV1(bulk: number): string {
  const dir = tempDir("ezra-migrate-");
  dirs.push(dir);
  const db = new Database(join(dir, "ezra.db"), { create: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(v1Schema);
  db.exec("PRAGMA user_version = 1");
  db.exec(`INSERT INTO queues (name, last_ms, last_seq, entries_added, max_attempts, created_at) VALUES ('jobs', ${NOW + bulk + 1}, 0, ${bulk + 2}, 3, ${NOW})`);
  db.exec(`INSERT INTO groups VALUES ('jobs', 'g', ${NOW})`);
  db.exec(`INSERT INTO consumers VALUES ('jobs', 'g', 'w1', ${NOW}, ${NOW})`);
  db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${bulk})
    INSERT INTO tasks (queue, ms, seq, status, fields, attempts, worker, grp, lease_until, created_at, finished_at, purge_at)
    SELECT 'jobs', ${NOW} + i, 0,
      CASE WHEN i % 20 = 0 THEN 'in_flight' WHEN i % 20 = 1 THEN 'done' ELSE 'available' END,
      '["n","' || i || '"]',
      CASE WHEN i % 20 < 2 THEN 1 ELSE 0 END,
      CASE WHEN i % 20 < 2 THEN 'w1' END, CASE WHEN i % 20 < 2 THEN 'g' END,
      CASE WHEN i % 20 = 0 THEN ${NOW} + 60000 END, ${NOW},
      CASE WHEN i % 20 = 1 THEN ${NOW} END, CASE WHEN i % 20 = 1 THEN 9999999999999 END
    FROM n`);
  // A dead letter under the v1 dead view's name, with binary fields.
  db.query(`INSERT INTO tasks (queue, ms, seq, status, fields, attempts, last_error, created_at)
    VALUES ('jobs::dead', ${NOW + bulk + 1}, 0, 'dead', ?, 3, 'boom', ${NOW})`).run(new Uint8Array([0, 1, 2, 255]));
  db.close();
  return dir;
}

function expectedCounts(bulk: number) {
  const inFlight = Math.floor(bulk / 20); // i % 20 == 0
  const done = Math.floor((bulk + 19) / 20); // i % 20 == 1
  return { available: bulk - done - inFlight, done, inFlight };
}

test("a schema-1 data dir is migrated in place: tasks, states, dead letters, groups and consumers survive", async () => {
  const bulk = 1000;
  const dir = writeV1(bulk);
  const ezra = await startEzra({ dataDir: dir });
  const client = await connectPlain(ezra.port);
  const want = expectedCounts(bulk);
  // In-flight tasks come back as available at every start, migrated or not.
  expect(await client.call("XLEN", "jobs")).toBe(want.available + want.inFlight);
  expect(await client.call("XLEN", "jobs::dead")).toBe(1);
  const dead = (await client.call("XRANGE", "jobs::dead", "-", "+")) as [string, unknown[]][];
  expect(dead[0][0]).toBe(`${NOW + bulk + 1}-0`);
  const first = (await client.call("XRANGE", "jobs", "-", "+", "COUNT", 1)) as [string, unknown[]][];
  expect(first[0]).toEqual([`${NOW + 1}-0`, ["n", "1", "attempts", "1", "max_attempts", "3"]]);
  const groups = (await client.call("XINFO", "GROUPS", "jobs")) as unknown[][];
  expect(groups.length).toBe(1);
  expect(groups[0][1]).toBe("g");
  // Ids keep growing from the migrated last id.
  const id = (await client.call("XADD", "jobs", "*", "k", "v")) as string;
  expect(Number(id.split("-")[0])).toBeGreaterThan(NOW + bulk + 1);
  client.close();
  expect(await ezra.stop()).toBe(0);

  const db = new Database(join(dir, "ezra.db"), { readonly: true });
  expect(db.query("PRAGMA user_version").get()).toEqual({ user_version: SCHEMA_VERSION });
  const byState = db.query("SELECT queue, status, count(*) AS n FROM tasks GROUP BY 1, 2 ORDER BY 1, 2").all();
  // The XADD above added one available task.
  expect(byState).toEqual([
    { queue: "jobs", status: "available", n: want.available + want.inFlight + 1 },
    { queue: "jobs", status: "done", n: want.done },
    { queue: "jobs::dead", status: "dead", n: 1 },
  ]);
  expect(db.query("SELECT name FROM sqlite_master WHERE name LIKE 'v1_%'").all()).toEqual([]);
  expect(db.query("SELECT name, seen_at FROM consumers").all()).toEqual([{ name: "w1", seen_at: expect.any(Number) }]);
  db.close();
});

test("kill -9 during the migration of a large file loses nothing: the restart migrates it whole", async () => {
  const bulk = 1_500_000;
  const dir = writeV1(bulk);
  const before = (() => {
    const db = new Database(join(dir, "ezra.db"), { readonly: true });
    const n = (db.query("SELECT count(*) AS n FROM tasks").get() as { n: number }).n;
    db.close();
    return n;
  })();
  expect(before).toBe(bulk + 1);

  // Start, wait for the first progress line, kill -9 mid-copy.
  const proc = Bun.spawn([BUN, join(ROOT, "src", "main.ts"), "--data-dir", dir, "--port", "0"], { stdout: "pipe", stderr: "pipe" });
  let text = "";
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) text += decoder.decode(chunk);
  })();
  const deadline = Date.now() + 60_000;
  while (!new RegExp(`migrating .* to schema ${SCHEMA_VERSION}: [1-9][\\d,]* of 1,500,001 tasks`).test(text) && Date.now() < deadline && proc.exitCode === null) await Bun.sleep(5);
  const killedMidway = !/listening on/.test(text);
  proc.kill("SIGKILL");
  await proc.exited;
  expect({ killedMidway, text }).toEqual({ killedMidway: true, text: expect.stringContaining("migrating") });

  // The file is still schema 1 with every task.
  const db = new Database(join(dir, "ezra.db"));
  expect(db.query("PRAGMA user_version").get()).toEqual({ user_version: 1 });
  expect(db.query("SELECT count(*) AS n FROM tasks").get()).toEqual({ n: before });
  db.close();

  const ezra = await startEzra({ dataDir: dir, args: [] });
  const client = await connectPlain(ezra.port);
  const want = expectedCounts(bulk);
  expect(await client.call("XLEN", "jobs")).toBe(want.available + want.inFlight);
  expect(await client.call("XLEN", "jobs::dead")).toBe(1);
  client.close();
  expect(ezra.output()).toContain(`1,500,001 of 1,500,001 tasks`);
  expect(await ezra.stop()).toBe(0);
}, 180_000);

test("a schema-2 data dir loses its held and done indexes; in-flight tasks come back, due done tasks are purged", async () => {
  const dir = tempDir("ezra-migrate-v2-");
  dirs.push(dir);
  const db = new Database(join(dir, "ezra.db"), { create: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(schema);
  // What schema 2 had beside schema 3, and what it lacked.
  db.exec("ALTER TABLE queues DROP COLUMN entry_fields");
  db.exec("CREATE INDEX task_held ON task_state (key, grp, ms, seq, lease_until) WHERE status = 1");
  db.exec("CREATE INDEX task_done ON task_state (purge_at) WHERE status = 2");
  db.exec("PRAGMA user_version = 2");
  db.exec(`INSERT INTO queues (id, name, last_ms, last_seq, created_at) VALUES (1, 'jobs', ${NOW + 4}, 0, ${NOW})`);
  db.exec(`INSERT INTO groups VALUES ('jobs', 'g', ${NOW})`);
  // 1: available, 2: in flight, 3: done and due for purging long ago, 4: done, purged in the far future.
  for (let i = 1; i <= 4; i++) db.exec(`INSERT INTO task_payloads VALUES (1, ${NOW + i}, 0, ${NOW}, '["n","${i}"]')`);
  db.exec(`INSERT INTO task_state (key, ms, seq, status) VALUES (2, ${NOW + 1}, 0, 0)`);
  db.exec(`INSERT INTO task_state (key, ms, seq, status, attempts, worker, grp, lease_until, delivered_at) VALUES (2, ${NOW + 2}, 0, 1, 1, 'w', 'g', 9999999999999, ${NOW})`);
  db.exec(`INSERT INTO task_state (key, ms, seq, status, attempts, finished_at, purge_at) VALUES (2, ${NOW + 3}, 0, 2, 1, ${NOW}, ${NOW})`);
  db.exec(`INSERT INTO task_state (key, ms, seq, status, attempts, finished_at, purge_at) VALUES (2, ${NOW + 4}, 0, 2, 1, ${NOW}, 9999999999999)`);
  db.close();

  const ezra = await startEzra({ dataDir: dir });
  const client = await connectPlain(ezra.port);
  expect(await client.call("XLEN", "jobs")).toBe(2);
  expect(await client.call("XPENDING", "jobs", "g")).toEqual([0, null, null, null]);
  // Retention walks the file after the start: the due done task goes, the other stays.
  const deadline = Date.now() + 5_000;
  let ids: string[] = [];
  do {
    ids = ((await client.call("XRANGE", "jobs", "-", "+")) as [string, unknown][]).map((e) => e[0]);
    if (ids.length === 3) break;
    await Bun.sleep(20);
  } while (Date.now() < deadline);
  expect(ids).toEqual([`${NOW + 1}-0`, `${NOW + 2}-0`, `${NOW + 4}-0`]);
  client.close();
  expect(await ezra.stop()).toBe(0);

  const after = new Database(join(dir, "ezra.db"), { readonly: true });
  expect(after.query("PRAGMA user_version").get()).toEqual({ user_version: SCHEMA_VERSION });
  expect(after.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('task_held', 'task_done')").all()).toEqual([]);
  expect(after.query("SELECT entry_fields FROM queues").all()).toEqual([{ entry_fields: null }]);
  after.close();
});
