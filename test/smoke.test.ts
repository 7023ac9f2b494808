// Smoke test: the server starts on a free port, answers PING, and pushes/pops through redis-cli's protocol.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createClient } from "redis";
import { type EzraProcess, removeDir, startEzra } from "./helpers/servers.ts";

let ezra: EzraProcess;
beforeAll(async () => {
  ezra = await startEzra();
});
afterAll(async () => {
  expect(await ezra.stop()).toBe(0);
  removeDir(ezra.dataDir);
});

test("push, pop and ack with node-redis", async () => {
  const client = createClient({ socket: { port: ezra.port, host: "127.0.0.1" } });
  await client.connect();
  expect(await client.ping()).toBe("PONG");
  const id = await client.xAdd("smoke", "*", { body: "hello" });
  expect(id).toMatch(/^\d+-0$/);
  const read = await client.xReadGroup("g", "c", { key: "smoke", id: ">" });
  expect(read?.[0].messages[0].message).toEqual({ body: "hello", attempts: "1", max_attempts: "3" });
  expect(await client.xAck("smoke", "g", id)).toBe(1);
  await client.quit();
});
