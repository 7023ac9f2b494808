// What the SQLite driver keeps in memory (waiting orders, held tasks, retention buckets) must
// agree with task_state at every moment, whatever the mix of commands: a random workload runs
// against a real server, and after each round XPENDING, XLEN and XINFO (answered from memory)
// are compared with the rows, read from ezra.db by a second connection.
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { connectPlain } from "../helpers/plain-client.ts";
import { type EzraProcess, removeDir, startEzra, tempDir } from "../helpers/servers.ts";

const dirs: string[] = [];
const servers: EzraProcess[] = [];
afterAll(async () => {
  // A failed expectation leaves its server running: stop it before its dir goes.
  for (const server of servers) await server.stop();
  for (const dir of dirs) removeDir(dir);
});

/** A seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test("held tasks, waiting counts and retention in memory match task_state under a random workload", async () => {
  const dir = tempDir("ezra-memory-rows-");
  dirs.push(dir);
  // Leases of 150 ms end during the run; retention of 0.3 s purges during it.
  const args = ["--durability", "normal", "--visibility-timeout", "150ms", "--retention-seconds", "0.3", "--max-attempts", "4"];
  let ezra = await startEzra({ dataDir: dir, args });
  servers.push(ezra);
  let client = await connectPlain(ezra.port);
  const db = new Database(join(dir, "ezra.db"), { readonly: true });
  const rand = random(12345);
  const pick = <T>(items: T[]) => items[Math.floor(rand() * items.length)];
  const groups = ["g1", "g2"];
  const workers = ["w1", "w2", "w3"];
  for (const g of groups) await client.call("XGROUP", "CREATE", "q", g, "0", "MKSTREAM");
  const delivered: string[] = [];

  const rowsPending = () =>
    db.query("SELECT grp, worker, count(*) AS n FROM task_state WHERE key = 2 AND status = 1 GROUP BY grp, worker ORDER BY grp, worker").all() as {
      grp: string;
      worker: string;
      n: number;
    }[];

  for (let round = 0; round < 40; round++) {
    if (round === 20) {
      // A crash with tasks in flight: the restart counts them as waiting and releases them
      // as claims read them or its timer reaches them.
      for (let i = 0; i < 5; i++) await client.call("XADD", "q", "*", "n", "crash");
      await client.call("XREADGROUP", "GROUP", "g1", "w1", "COUNT", "5", "STREAMS", "q", ">");
      await client.call("PING");
      const leftInFlight = (db.query("SELECT count(*) AS n FROM task_state WHERE status = 1").get() as { n: number }).n;
      expect(leftInFlight).toBeGreaterThanOrEqual(5);
      client.close();
      await ezra.kill();
      ezra = await startEzra({ dataDir: dir, args });
      servers.push(ezra);
      client = await connectPlain(ezra.port);
      await Bun.sleep(100);
    }
    for (let op = 0; op < 25; op++) {
      const r = rand();
      const g = pick(groups);
      const w = pick(workers);
      if (r < 0.3) await client.call("XADD", "q", "*", "n", String(round * 100 + op));
      else if (r < 0.55) {
        const reply = (await client.call("XREADGROUP", "GROUP", g, w, "COUNT", String(1 + Math.floor(rand() * 4)), "STREAMS", "q", ">")) as
          | [string, [string, unknown][]][]
          | null;
        for (const [, entries] of reply ?? []) for (const [id] of entries) delivered.push(id);
      } else if (r < 0.75 && delivered.length > 0) {
        await client.call("XACK", "q", g, pick(delivered), pick(delivered));
      } else if (r < 0.8 && delivered.length > 0) {
        await client.call("XCLAIM", "q", g, w, "0", pick(delivered));
      } else if (r < 0.84) {
        await client.call("XAUTOCLAIM", "q", g, w, "50", "0-0", "COUNT", "3");
      } else if (r < 0.87 && delivered.length > 0) {
        await client.call("XDEL", "q", pick(delivered));
      } else if (r < 0.89) {
        await client.call("XGROUP", "DELCONSUMER", "q", g, w);
      } else if (r < 0.91) {
        await client.call("XTRIM", "q", "MAXLEN", "60");
      } else if (r < 0.94 && delivered.length > 0) {
        await client.call("XREADGROUP", "GROUP", g, w, "STREAMS", "q", "0");
      }
    }
    // Timers (lease ends, purges) run between rounds.
    if (round % 5 === 4) await Bun.sleep(200);
    // A delivery may be answered before its turn commits: one more round trip waits for it.
    await client.call("PING");
    // Every task in flight on disk is one the server holds (none left over from before the crash).
    const heldOnDisk = (db.query("SELECT count(*) AS n FROM task_state WHERE status = 1").get() as { n: number }).n;

    // XPENDING per group and consumer, from memory, against the rows.
    const fromMemory: { grp: string; worker: string; n: number }[] = [];
    for (const g of groups) {
      const summary = (await client.call("XPENDING", "q", g)) as [number, string | null, string | null, [string, string][] | null];
      for (const [worker, n] of summary[3] ?? []) fromMemory.push({ grp: g, worker, n: Number(n) });
      const detail = (await client.call("XPENDING", "q", g, "-", "+", "1000")) as [string, string, number, number][];
      const ids = (db.query("SELECT ms || '-' || seq AS id FROM task_state WHERE key = 2 AND status = 1 AND grp = ? ORDER BY ms, seq").all(g) as { id: string }[]).map((row) => row.id);
      expect({ round, g, ids: detail.map((d) => d[0]) }).toEqual({ round, g, ids });
      expect(summary[0]).toBe(ids.length);
    }
    expect({ round, pending: fromMemory }).toEqual({ round, pending: rowsPending() });
    const waiting = (db.query("SELECT count(*) AS n FROM task_state WHERE key = 2 AND status = 0").get() as { n: number }).n;
    const inFlight = (db.query("SELECT count(*) AS n FROM task_state WHERE key = 2 AND status = 1").get() as { n: number }).n;
    const info = (await client.call("XINFO", "GROUPS", "q")) as unknown[][];
    const lag = Number(info[0][info[0].indexOf("lag") + 1]);
    expect({ round, lag }).toEqual({ round, lag: waiting });
    expect(inFlight).toBe(fromMemory.reduce((sum, p) => sum + p.n, 0));
    expect({ round, heldOnDisk }).toEqual({ round, heldOnDisk: inFlight });
    const dead = (db.query("SELECT count(*) AS n FROM task_state WHERE key = 3").get() as { n: number }).n;
    expect({ round, deadLength: await client.call("XLEN", "q::dead") }).toEqual({ round, deadLength: dead });
  }
  // Retention ran: acked tasks older than 0.3 s are gone.
  await Bun.sleep(1500);
  const staleDone = (db.query("SELECT count(*) AS n FROM task_state WHERE status = 2 AND purge_at < ?").get(Date.now() - 1000) as { n: number }).n;
  expect(staleDone).toBe(0);
  db.close();
  client.close();
  expect(await ezra.stop()).toBe(0);
}, 60_000);
