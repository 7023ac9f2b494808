// EZRA CONFIG's entry_fields setting on a real server: a queue set to `plain` delivers entries
// exactly as pushed (the differential suite compares them with redis-server), keeps counting
// deliveries in XPENDING, refuses unknown values, resets to `ezra`, and survives a restart.
import { afterAll, expect, test } from "bun:test";
import { connectPlain } from "./helpers/plain-client.ts";
import { type EzraProcess, removeDir, startEzra, tempDir } from "./helpers/servers.ts";

const dirs: string[] = [];
const servers: EzraProcess[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) removeDir(d);
});

test("entry_fields plain: entries as pushed, deliveries still counted, kept across a restart, reset to ezra", async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  let ezra = await startEzra({ dataDir });
  servers.push(ezra);
  let client = await connectPlain(ezra.port);
  await client.call("XGROUP", "CREATE", "q", "g", "$", "MKSTREAM");
  const settings = async () => {
    const flat = (await client.call("EZRA", "CONFIG", "GET", "q")) as string[];
    return Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
  };
  expect(await settings()).toMatchObject({ entry_fields: "ezra", entry_fields_source: "default" });
  await expect(client.call("EZRA", "CONFIG", "SET", "q", "entry_fields", "fancy")).rejects.toThrow("ERR entry_fields must be ezra or plain, got 'fancy'");
  expect(await client.call("EZRA", "CONFIG", "SET", "q", "entry_fields", "PLAIN")).toBe("OK");
  expect(await settings()).toMatchObject({ entry_fields: "plain", entry_fields_source: "queue" });

  const id = (await client.call("XADD", "q", "*", "job", "x")) as string;
  expect(await client.call("XREADGROUP", "GROUP", "g", "w", "STREAMS", "q", ">")).toEqual([["q", [[id, ["job", "x"]]]]]);
  const pending = (await client.call("XPENDING", "q", "g", "-", "+", "10")) as [string, string, number, number][];
  expect(pending.map(([pid, worker, , deliveries]) => [pid, worker, deliveries])).toEqual([[id, "w", 1]]);

  client.close();
  expect(await ezra.stop()).toBe(0);
  ezra = await startEzra({ dataDir });
  servers.push(ezra);
  client = await connectPlain(ezra.port);
  expect(await settings()).toMatchObject({ entry_fields: "plain", entry_fields_source: "queue" });
  expect(await client.call("XRANGE", "q", "-", "+")).toEqual([[id, ["job", "x"]]]);
  expect(await client.call("EZRA", "CONFIG", "RESET", "q", "entry_fields")).toBe("OK");
  // Back to ezra's entries: attempts counts the delivery before the restart (a clean stop writes it).
  expect(await client.call("XRANGE", "q", "-", "+")).toEqual([[id, ["job", "x", "attempts", "1", "max_attempts", "3"]]]);
  client.close();
});
