// The smoke test for a compiled ezra executable: start it on a temp data dir and port 0, push,
// pop and ack one task over TCP, then SIGTERM it and expect exit code 0.
import { expect } from "bun:test";
import { RedisClient } from "bun";
import { removeDir, startEzra } from "./servers.ts";

export async function pushPopAck(exe: string): Promise<void> {
  const ezra = await startEzra({ command: [exe] });
  try {
    const client = new RedisClient(`redis://127.0.0.1:${ezra.port}`, { autoReconnect: false });
    await client.connect();
    const id = await client.xadd("smoke", "*", "job", "compiled", "n", "1");
    expect(await client.xreadgroup("GROUP", "g", "c", "STREAMS", "smoke", ">")).toEqual({
      smoke: [[id, ["job", "compiled", "n", "1", "attempts", "1", "max_attempts", "3"]]],
    });
    expect(await client.xack("smoke", "g", id as string)).toBe(1);
    expect(await client.xlen("smoke")).toBe(0);
    client.close();
  } finally {
    const code = await ezra.stop();
    removeDir(ezra.dataDir);
    expect(code).toBe(0);
  }
}
