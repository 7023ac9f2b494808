// What the SQLite driver keeps in memory (waiting orders, held tasks, retention buckets) must
// agree with task_state at every moment, whatever the mix of commands: a random workload runs
// against a real server, and after each round XPENDING, XLEN and XINFO (answered from memory)
// are compared with the rows, read from ezra.db by a second connection.
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { connectPlain, type PlainClient } from "../helpers/plain-client.ts";
import { type EzraProcess, removeDir, startEzra, tempDir } from "../helpers/servers.ts";

const dirs: string[] = [];
const servers: EzraProcess[] = [];
afterAll(async () => {
  // A failed expectation leaves its server running: stop it before its dir goes.
  for (const server of servers) await server.stop();
  for (const dir of dirs) removeDir(dir);
});

/** What the rows say, or what the server says (XPENDING of each group, XINFO GROUPS' lag, XLEN of the dead view). */
interface Snapshot {
  pending: Record<string, [string, string][]>;
  inFlight: number;
  waiting: number;
  dead: number;
}

async function memorySnapshot(client: PlainClient): Promise<Snapshot> {
  await client.call("MULTI");
  await client.call("XPENDING", "q", "g1", "-", "+", "1000");
  await client.call("XPENDING", "q", "g2", "-", "+", "1000");
  await client.call("XINFO", "GROUPS", "q");
  await client.call("XLEN", "q::dead");
  const [p1, p2, info, dead] = (await client.call("EXEC")) as [[string, string][], [string, string][], unknown[][], number];
  const pending = { g1: p1.map(([id, worker]) => [id, worker] as [string, string]), g2: p2.map(([id, worker]) => [id, worker] as [string, string]) };
  const lag = Number(info[0][info[0].indexOf("lag") + 1]);
  return { pending, inFlight: p1.length + p2.length, waiting: lag, dead };
}

/** A seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * `claimWriteDelay`: "0" writes each claim in its turn, so the rows can be compared after every
 * round; otherwise claims live in memory until acked, released or older than the delay, and each
 * round first waits out the delay.
 */
async function randomWorkload(claimWriteDelay: string, rounds: number, settleMs: number) {
  const dir = tempDir("ezra-memory-rows-");
  dirs.push(dir);
  // Leases of 150 ms end during the run; retention of 0.3 s purges during it.
  const args = ["--durability", "normal", "--visibility-timeout", "150ms", "--retention-seconds", "0.3", "--max-attempts", "4", "--claim-write-delay", claimWriteDelay];
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

  const diskSnapshot = (): Snapshot => {
    const pending: Snapshot["pending"] = {};
    for (const g of groups) {
      pending[g] = (db.query("SELECT ms || '-' || seq AS id, worker FROM task_state WHERE key = 2 AND status = 1 AND grp = ? ORDER BY ms, seq").all(g) as {
        id: string;
        worker: string;
      }[]).map((row) => [row.id, row.worker]);
    }
    const count = (where: string) => (db.query(`SELECT count(*) AS n FROM task_state WHERE ${where}`).get() as { n: number }).n;
    // Every row in flight is one the server holds: none left over from before the crash.
    return { pending, inFlight: count("status = 1"), waiting: count("key = 2 AND status = 0"), dead: count("key = 3") };
  };

  for (let round = 0; round < rounds; round++) {
    if (round === rounds / 2) {
      // A crash with tasks in flight: the restart counts them as waiting and releases them
      // as claims read them or its timer reaches them.
      for (let i = 0; i < 10; i++) await client.call("XADD", "q", "*", "n", "crash");
      await client.call("XREADGROUP", "GROUP", "g1", "w1", "COUNT", "5", "STREAMS", "q", ">");
      // These five are written by now; five more are claimed in memory only when the kill comes.
      await Bun.sleep(settleMs);
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
    // Timers (lease ends, purges, claim writes) run between rounds.
    if (round % 5 === 4) await Bun.sleep(200);
    if (settleMs > 0) await Bun.sleep(settleMs);
    // A delivery may be answered before its turn commits: one more round trip waits for it.
    await client.call("PING");
    // The server's view (one EXEC: one moment) against the rows; the timer may run in between,
    // so the rows count only when two views around them agree.
    let memory: Snapshot | null = null;
    let disk: Snapshot | null = null;
    for (let attempt = 0; attempt < 20; attempt++) {
      const before = await memorySnapshot(client);
      disk = diskSnapshot();
      memory = await memorySnapshot(client);
      if (Bun.deepEquals(before, memory)) break;
      await Bun.sleep(5);
    }
    expect({ round, ...memory }).toEqual({ round, ...disk });
  }
  // Retention ran: acked tasks older than 0.3 s are gone.
  await Bun.sleep(1500);
  const staleDone = (db.query("SELECT count(*) AS n FROM task_state WHERE status = 2 AND purge_at < ?").get(Date.now() - 1000) as { n: number }).n;
  expect(staleDone).toBe(0);
  db.close();
  client.close();
  expect(await ezra.stop()).toBe(0);
}

test("held tasks, waiting counts and retention in memory match task_state under a random workload (claims written at once)", async () => {
  await randomWorkload("0", 40, 0);
}, 60_000);

test("the same with claims held in memory for up to 50 ms: once written, the rows agree again", async () => {
  await randomWorkload("50ms", 20, 110);
}, 60_000);
