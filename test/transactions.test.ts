// Transactions and the client-control commands across connections, on a real ezra server and,
// where Redis behaves the same, on a real redis-server too: WATCH broken by another client's
// write, CLIENT UNBLOCK of a blocked reader (TIMEOUT and ERROR), CLIENT KILL by id, address and
// local address, TIME. Then what only ezra promises: every kind of change to a watched queue
// (claims, acks, lease expiry) breaks the WATCH; an EXEC that hits a full disk applies nothing;
// and a server killed with SIGKILL during a 5,000-XADD EXEC comes back with all or none of them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RawConnection, resp } from "./helpers/raw-client.ts";
import { type Reply, RespClient, render } from "./helpers/resp-client.ts";
import { type EzraProcess, type RedisProcess, removeDir, startEzra, startRedis, tempDir } from "./helpers/servers.ts";
import { requireTool, TOOLS } from "./helpers/tools.ts";

const START_MS = 30_000;
const WAIT_MS_MAX = 10_000;
const haveRedis = requireTool(TOOLS.redisServer, "the transaction tests that compare with redis-server");
const canMount = requireTool(TOOLS.tmpfsMount, "the EXEC-on-a-full-disk test");

let ezra: EzraProcess;
let redis: RedisProcess | undefined;
beforeAll(async () => {
  [ezra, redis] = await Promise.all([startEzra(), haveRedis ? startRedis() : Promise.resolve(undefined)]);
}, START_MS);
afterAll(async () => {
  await redis?.stop();
  expect(await ezra.stop()).toBe(0);
  removeDir(ezra.dataDir);
}, START_MS);

let keyCounter = 0;
const freshKey = (name: string) => `tx${++keyCounter}.${name}`;

/** Each server the behaviour must hold on: ezra always, redis-server when installed. */
function servers(): [string, number][] {
  return [["ezra", ezra.port], ...(redis ? [["redis", redis.port] as [string, number]] : [])];
}

async function connect(port: number, protocol: 2 | 3 = 2): Promise<RespClient> {
  const client = await RespClient.connect(port);
  if (protocol === 3) await client.send(["HELLO", "3"]);
  return client;
}

const text = (r: Reply): string => ("value" in r ? String(r.value) : render(r));

/** Waits until INFO clients reports `n` blocked clients (the reader really is waiting). */
async function untilBlocked(client: RespClient, n: number): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  for (;;) {
    const info = text(await client.send(["INFO", "clients"]));
    if (new RegExp(`blocked_clients:${n}\\b`).test(info)) return;
    if (Date.now() > deadline) throw new Error(`never saw ${n} blocked clients: ${info}`);
    await Bun.sleep(10);
  }
}

describe("WATCH across connections", () => {
  test("another client's XADD to a watched key makes EXEC answer null, on ezra and Redis alike", async () => {
    const results: Record<string, string[]> = {};
    for (const [name, port] of servers()) {
      for (const protocol of [2, 3] as const) {
        const q = freshKey("q");
        const a = await connect(port, protocol);
        const b = await connect(port);
        const out = [
          await a.send(["WATCH", q]),
          await b.send(["XADD", q, "1-1", "by", "b"]),
          await a.send(["MULTI"]),
          await a.send(["XADD", q, "2-1", "by", "a"]),
          await a.send(["EXEC"]),
          await a.send(["XLEN", q]),
          // The failed EXEC unwatched: the next one runs.
          await a.send(["MULTI"]),
          await a.send(["XADD", q, "2-1", "by", "a"]),
          await a.send(["EXEC"]),
        ].map(render);
        results[`${name} RESP${protocol}`] = out;
        a.close();
        b.close();
      }
    }
    const nil = (p: 2 | 3) => (p === 3 ? "_" : "*-1");
    for (const p of [2, 3] as const) {
      expect(results[`ezra RESP${p}`]).toEqual(["+OK", '"1-1"', "+OK", "+QUEUED", nil(p), ":1", "+OK", "+QUEUED", '["2-1"]']);
      if (redis) expect(results[`redis RESP${p}`]).toEqual(results[`ezra RESP${p}`]);
    }
  });

  // Redis does not count claims, acks or group changes as changes to the key; ezra does
  // (docs/differences.md, `WATCH: a claim or an ack is a change`).
  const changes: [string, (q: string) => string[][], (q: string) => string[]][] = [
    ["a claim (XREADGROUP)", (q) => [["XADD", q, "1-1", "a", "1"]], (q) => ["XREADGROUP", "GROUP", "g", "c2", "STREAMS", q, ">"]],
    ["an ack (XACK)", (q) => [["XADD", q, "1-1", "a", "1"], ["XREADGROUP", "GROUP", "g", "c2", "STREAMS", q, ">"]], (q) => ["XACK", q, "g", "1-1"]],
    ["a nack (XNACK)", (q) => [["XADD", q, "1-1", "a", "1"], ["XREADGROUP", "GROUP", "g", "c2", "STREAMS", q, ">"]], (q) => ["XNACK", q, "g", "1-1"]],
    ["an XDEL", (q) => [["XADD", q, "1-1", "a", "1"]], (q) => ["XDEL", q, "1-1"]],
    ["a new group", () => [], (q) => ["XGROUP", "CREATE", q, "g2", "$", "MKSTREAM"]],
    ["DEL", (q) => [["XADD", q, "1-1", "a", "1"]], (q) => ["DEL", q]],
    ["an LPOP", (q) => [["RPUSH", q, "x"]], (q) => ["LPOP", q]],
    ["a write to its dead view's queue, watched as q::dead", () => [], (q) => ["XADD", q.slice(0, -"::dead".length), "1-1", "a", "1"]],
  ];
  for (const [what, setup, change] of changes) {
    test(`ezra: ${what} by another client breaks the WATCH`, async () => {
      let q = freshKey("q");
      if (what.includes("dead view")) q += "::dead";
      const a = await connect(ezra.port);
      const b = await connect(ezra.port);
      for (const step of setup(q)) await b.send(step);
      expect(render(await a.send(["WATCH", q]))).toBe("+OK");
      const changed = await b.send(change(q));
      expect(changed.type).not.toBe("error");
      await a.send(["MULTI"]);
      await a.send(["PING"]);
      expect(render(await a.send(["EXEC"]))).toBe("*-1");
      a.close();
      b.close();
    });
  }

  test("ezra: a read by another client leaves the WATCH intact", async () => {
    const q = freshKey("q");
    const a = await connect(ezra.port);
    const b = await connect(ezra.port);
    await b.send(["XADD", q, "1-1", "a", "1"]);
    await a.send(["WATCH", q]);
    for (const read of [["XLEN", q], ["XRANGE", q, "-", "+"], ["XINFO", "STREAM", q], ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "other." + q, ">"]]) {
      expect((await b.send(read)).type).not.toBe("error");
    }
    await a.send(["MULTI"]);
    await a.send(["XLEN", q]);
    expect(render(await a.send(["EXEC"]))).toBe("[:1]");
    a.close();
    b.close();
  });

  test("ezra: a lease running out (the server's own timer) breaks the WATCH", async () => {
    const q = freshKey("q");
    const a = await connect(ezra.port);
    await a.send(["EZRA", "CONFIG", "SET", q, "visibility_timeout", "0.05"]);
    await a.send(["XADD", q, "1-1", "a", "1"]);
    await a.send(["XREADGROUP", "GROUP", "g", "c", "STREAMS", q, ">"]);
    await a.send(["WATCH", q]);
    const deadline = Date.now() + WAIT_MS_MAX;
    while (render(await a.send(["XLEN", q])) !== ":1" && Date.now() < deadline) await Bun.sleep(20);
    await a.send(["MULTI"]);
    await a.send(["PING"]);
    expect(render(await a.send(["EXEC"]))).toBe("*-1");
    a.close();
  });

  test("ezra: a watching client that disconnects gives its watch back (no effect on others)", async () => {
    const q = freshKey("q");
    const a = await connect(ezra.port);
    const b = await connect(ezra.port);
    await a.send(["WATCH", q]);
    await b.send(["WATCH", q]);
    a.close();
    await b.send(["MULTI"]);
    await b.send(["XADD", q, "1-1", "a", "1"]);
    expect(render(await b.send(["EXEC"]))).toBe('["1-1"]');
    b.close();
  });
});

describe("CLIENT UNBLOCK", () => {
  const blockers: [string, (q: string) => string[]][] = [
    ["XREADGROUP", (q) => ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", q, ">"]],
    ["XREAD", (q) => ["XREAD", "BLOCK", "0", "STREAMS", q, "$"]],
    ["BLPOP", (q) => ["BLPOP", q, "0"]],
  ];
  for (const [command, block] of blockers) {
    for (const mode of ["TIMEOUT", "ERROR", null] as const) {
      test(`${command} unblocked with ${mode ?? "no reason (TIMEOUT)"}: the same replies as Redis`, async () => {
        const results: Record<string, string[]> = {};
        for (const [name, port] of servers()) {
          for (const protocol of [2, 3] as const) {
            const q = freshKey("q");
            const reader = await connect(port, protocol);
            const admin = await connect(port);
            // Redis's XREADGROUP needs the group first; BLPOP needs a key that is not a stream.
            if (command === "XREADGROUP") await admin.send(["XGROUP", "CREATE", q, "g", "$", "MKSTREAM"]);
            const id = text(await reader.send(["CLIENT", "ID"]));
            const blocked = reader.send(block(q));
            await untilBlocked(admin, 1);
            const unblocked = await admin.send(["CLIENT", "UNBLOCK", id, ...(mode ? [mode] : [])]);
            const out = [render(unblocked), render(await blocked), render(await reader.send(["PING"])), render(await admin.send(["CLIENT", "UNBLOCK", id]))];
            await untilBlocked(admin, 0);
            results[`${name} RESP${protocol}`] = out;
            reader.close();
            admin.close();
          }
        }
        for (const p of [2, 3] as const) {
          const answer = mode === "ERROR" ? "-UNBLOCKED client unblocked via CLIENT UNBLOCK" : p === 3 ? "_" : "*-1";
          expect(results[`ezra RESP${p}`]).toEqual([":1", answer, "+PONG", ":0"]);
          if (redis) expect(results[`redis RESP${p}`]).toEqual(results[`ezra RESP${p}`]);
        }
      });
    }
  }

  test("ezra: an unblocked XREADGROUP claimed nothing, and the task still goes to the next reader", async () => {
    const q = freshKey("q");
    const reader = await connect(ezra.port);
    const admin = await connect(ezra.port);
    const id = text(await reader.send(["CLIENT", "ID"]));
    const blocked = reader.send(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", q, ">"]);
    await untilBlocked(admin, 1);
    expect(render(await admin.send(["CLIENT", "UNBLOCK", id]))).toBe(":1");
    expect(render(await blocked)).toBe("*-1");
    await admin.send(["XADD", q, "1-1", "a", "1"]);
    expect(render(await admin.send(["XLEN", q]))).toBe(":1");
    reader.close();
    admin.close();
  });
});

describe("CLIENT KILL", () => {
  for (const form of ["ID", "ADDR", "old form addr:port", "LADDR"] as const) {
    test(`by ${form}: the other connection is closed, on ezra and Redis alike`, async () => {
      for (const [, port] of servers()) {
        const victim = await connect(port);
        const killer = await connect(port);
        const info = text(await victim.send(["CLIENT", "INFO"]));
        const id = /id=(\d+)/.exec(info)?.[1] ?? "";
        const addr = /\baddr=(\S+)/.exec(info)?.[1] ?? "";
        const laddr = /\bladdr=(\S+)/.exec(info)?.[1] ?? "";
        expect(laddr).toBe(`127.0.0.1:${port}`);
        const args =
          form === "ID" ? ["ID", id] : form === "ADDR" ? ["ADDR", addr] : form === "LADDR" ? ["LADDR", laddr, "SKIPME", "yes"] : [addr];
        const reply = render(await killer.send(["CLIENT", "KILL", ...args]));
        if (form === "old form addr:port") expect(reply).toBe("+OK");
        else if (form === "LADDR") expect(Number(reply.slice(1))).toBeGreaterThanOrEqual(1);
        else expect(reply).toBe(":1");
        expect((await victim.send(["PING"])).type).toBe("closed");
        expect(render(await killer.send(["PING"]))).toBe("+PONG");
        killer.close();
      }
    });
  }

  test("a blocked reader that is killed is no longer blocked (ezra)", async () => {
    const q = freshKey("q");
    const reader = await connect(ezra.port);
    const admin = await connect(ezra.port);
    const id = text(await reader.send(["CLIENT", "ID"]));
    const blocked = reader.send(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", q, ">"]);
    await untilBlocked(admin, 1);
    expect(render(await admin.send(["CLIENT", "KILL", "ID", id]))).toBe(":1");
    expect((await blocked).type).toBe("closed");
    await untilBlocked(admin, 0);
    // The task pushed now is not claimed by the dead reader.
    await admin.send(["XADD", q, "1-1", "a", "1"]);
    expect(render(await admin.send(["XLEN", q]))).toBe(":1");
    admin.close();
  });
});

test("TIME is the server's clock: seconds and microseconds", async () => {
  const client = await connect(ezra.port);
  const before = Date.now();
  const reply = await client.send(["TIME"]);
  const after = Date.now();
  expect(reply.type).toBe("array");
  const [s, us] = (reply as { items: Reply[] }).items.map((r) => Number(text(r)));
  expect(us).toBeGreaterThanOrEqual(0);
  expect(us).toBeLessThan(1_000_000);
  const ms = s * 1000 + us / 1000;
  expect(ms).toBeGreaterThanOrEqual(before - 1000);
  expect(ms).toBeLessThanOrEqual(after + 1000);
  client.close();
});

test("CONFIG GET answers ezra's own settings", async () => {
  const client = await connect(ezra.port, 3);
  const reply = await client.send(["CONFIG", "GET", "*"]);
  expect(reply.type).toBe("map");
  const settings = Object.fromEntries((reply as { entries: [Reply, Reply][] }).entries.map(([k, v]) => [text(k), text(v)]));
  expect(settings).toMatchObject({ maxclients: "10000", port: String(ezra.port), bind: "127.0.0.1", dir: ezra.dataDir, save: "", appendonly: "yes", databases: "1" });
  expect(settings.requirepass).toBeUndefined();
  client.close();
});

/** MULTI, then `n` XADDs to `q` (payload `bytes` each), as one RESP string. */
function bigTransaction(q: string, n: number, bytes: number): string {
  const payload = "p".repeat(bytes);
  let out = resp("MULTI");
  for (let i = 0; i < n; i++) out += resp("XADD", q, "*", "n", String(i), "payload", payload);
  return out;
}

async function untilText(conn: RawConnection, done: (text: string) => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!done(conn.text)) {
    if (conn.closed || Date.now() > deadline) throw new Error(`gave up waiting: ${conn.text.slice(-200)}`);
    await Bun.sleep(5);
  }
}

test("queued commands are capped at --input-bytes-max: past it the command is refused and EXEC aborts", async () => {
  const small = await startEzra({ args: ["--input-bytes-max", "65536"] });
  try {
    const client = await connect(small.port);
    await client.send(["MULTI"]);
    const payload = "x".repeat(10_000);
    const replies: string[] = [];
    for (let i = 0; i < 8; i++) replies.push(render(await client.send(["XADD", "q", "*", "p", payload])));
    expect(replies.slice(0, 6)).toEqual(Array(6).fill("+QUEUED"));
    expect(replies[6]).toBe("-ERR transaction over 65536 bytes of queued commands (--input-bytes-max); EXEC will abort");
    expect(render(await client.send(["EXEC"]))).toBe("-EXECABORT Transaction discarded because of previous errors.");
    expect(render(await client.send(["XLEN", "q"]))).toBe(":0");
    client.close();
  } finally {
    await small.stop();
    removeDir(small.dataDir);
  }
}, START_MS);

describe("EXEC is all or nothing", () => {
  test.skipIf(!canMount)("an EXEC that fills the disk applies nothing and answers EXECABORT", async () => {
    const dir = tempDir("ezra-tx-tmpfs-");
    const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1024k", "tmpfs", dir]);
    expect(mounted.exitCode).toBe(0);
    const server = await startEzra({ dataDir: dir });
    try {
      const q = "q";
      const conn = await RawConnection.open(server.port);
      // 400 x 4 KB: more than the 1 MiB disk can hold, so a statement fails midway.
      conn.write(bigTransaction(q, 400, 4096));
      await untilText(conn, (t) => t.split("+QUEUED").length - 1 === 400);
      conn.write(resp("EXEC"));
      await untilText(conn, (t) => /\r\n-EXECABORT[^\r]*\r\n$/.test(t) || /\*400\r\n/.test(t));
      expect(conn.text).toMatch(/-EXECABORT Transaction discarded: ezra storage error, nothing was stored: database or disk is full[^\r]*\r\n$/);
      const client = await connect(server.port);
      expect(render(await client.send(["XLEN", q]))).toBe(":0");
      // A transaction that fits still works afterwards.
      await client.send(["MULTI"]);
      await client.send(["XADD", q, "1-1", "a", "1"]);
      expect(render(await client.send(["EXEC"]))).toBe('["1-1"]');
      expect(render(await client.send(["XLEN", q]))).toBe(":1");
      client.close();
      conn.end();
    } finally {
      await server.stop();
      Bun.spawnSync(["umount", "-l", dir]);
      removeDir(dir);
    }
  }, 60_000);

  // kill -9 at several points of an EXEC of N XADDs: as EXEC is sent, at fractions of the time
  // a whole EXEC takes on this machine (measured first on the same server), and after its reply.
  const N = 5000;
  const sendTransaction = async (conn: RawConnection, q: string): Promise<void> => {
    conn.text = "";
    conn.write(bigTransaction(q, N, 100));
    await untilText(conn, (t) => t.split("+QUEUED").length - 1 === N);
    conn.write(resp("EXEC"));
  };
  const replied = (t: string) => t.includes(`*${N}\r\n`) && t.split("\r\n$").length - 1 >= N;
  for (const at of [0, 0.25, 0.5, 0.75, 1, "after the reply"] as const) {
    const when = typeof at === "number" ? `at ${at * 100}% of an EXEC's run time` : at;
    test(`SIGKILL ${when}, EXEC of ${N} XADDs: all or none after restart`, async () => {
      const dataDir = tempDir("ezra-tx-kill-");
      let server = await startEzra({ dataDir });
      try {
        const conn = await RawConnection.open(server.port);
        await sendTransaction(conn, "warm-up");
        const started = performance.now();
        await untilText(conn, replied);
        const runMs = performance.now() - started;
        await sendTransaction(conn, "q");
        if (at === "after the reply") await untilText(conn, replied);
        else if (at > 0) await Bun.sleep(at * runMs);
        await server.kill();
        server = await startEzra({ dataDir });
        const client = await connect(server.port);
        const length = Number(text(await client.send(["XLEN", "q"])));
        console.log(`kill -9 ${when} (${Math.round(runMs)} ms): ${length} of ${N} tasks after restart`);
        expect([0, N]).toContain(length);
        if (at === "after the reply") expect(length).toBe(N);
        client.close();
        conn.end();
      } finally {
        await server.stop();
        removeDir(dataDir);
      }
    }, 120_000);
  }
});
