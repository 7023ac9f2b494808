// Differential cases that need two connections: a client blocked in XREADGROUP or XREAD while
// another deletes its key (DEL, UNLINK) or destroys its group (XGROUP DESTROY). Both servers
// run the same steps, in RESP2 and RESP3, and the blocked client's reply (and when it came)
// must match Redis 7's: an error at once for XREADGROUP, still waiting for XREAD.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { RespClient, type Reply, render } from "../helpers/resp-client.ts";
import { DIFFERENCES_DOC, needRedis, noServers, type Protocol, useServers } from "./harness.ts";
import { ezraAttemptFields, mapReply } from "./normalisers.ts";

type Step =
  /** A command on the blocking connection A or the other connection B, awaited. */
  | { on: "a" | "b"; cmd: string[] }
  /** A command on A that blocks: sent, then the server is polled until it counts a blocked client. */
  | { block: string[] }
  /** Awaits A's blocked command; records its reply and whether it came before `within` ms. */
  | { answer: true; within: number };

interface BlockCase {
  name: string;
  steps: Step[];
  /** Hides ezra's attempts/max_attempts fields in entries (a documented difference). */
  attempts?: boolean;
}

const BLOCK_MS = "5000";
const group = (g = "g", key = "{q}"): string[] => ["XGROUP", "CREATE", key, g, "$", "MKSTREAM"];
const readGroup = (g = "g", ...keys: string[]): string[] => ["XREADGROUP", "GROUP", g, "c", "BLOCK", BLOCK_MS, "STREAMS", ...keys, ...keys.map(() => ">")];
const atOnce: Step = { answer: true, within: 2500 };

const cases: BlockCase[] = [
  {
    name: "DEL answers a blocked XREADGROUP",
    steps: [{ on: "b", cmd: group() }, { block: readGroup("g", "{q}") }, { on: "b", cmd: ["DEL", "{q}"] }, atOnce, { on: "a", cmd: ["EXISTS", "{q}"] }],
  },
  {
    name: "UNLINK answers a blocked XREADGROUP",
    steps: [{ on: "b", cmd: group() }, { block: readGroup("g", "{q}") }, { on: "b", cmd: ["UNLINK", "{q}"] }, atOnce, { on: "a", cmd: ["PING"] }],
  },
  {
    name: "DEL of one of several keys answers a blocked XREADGROUP",
    steps: [
      { on: "b", cmd: group("g", "{q}") }, { on: "b", cmd: group("g", "{r}") }, { block: readGroup("g", "{q}", "{r}") },
      { on: "b", cmd: ["DEL", "{r}"] }, atOnce, { on: "a", cmd: ["XLEN", "{q}"] },
    ],
  },
  {
    name: "XGROUP DESTROY answers a blocked XREADGROUP",
    steps: [{ on: "b", cmd: group() }, { block: readGroup("g", "{q}") }, { on: "b", cmd: ["XGROUP", "DESTROY", "{q}", "g"] }, atOnce, { on: "a", cmd: ["XINFO", "GROUPS", "{q}"] }],
  },
  {
    name: "XGROUP DESTROY of another group leaves a blocked XREADGROUP waiting",
    steps: [
      { on: "b", cmd: group("g") }, { on: "b", cmd: group("other") }, { block: ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "400", "STREAMS", "{q}", ">"] },
      { on: "b", cmd: ["XGROUP", "DESTROY", "{q}", "other"] }, { answer: true, within: 2500 }, { on: "b", cmd: ["XADD", "{q}", "1-1", "a", "1"] },
    ],
  },
  {
    name: "DEL of another key leaves a blocked XREADGROUP waiting, and a push serves it",
    attempts: true,
    steps: [
      { on: "b", cmd: group("g", "{q}") }, { on: "b", cmd: ["XADD", "{r}", "1-1", "a", "1"] }, { block: readGroup("g", "{q}") },
      { on: "b", cmd: ["DEL", "{r}"] }, { on: "b", cmd: ["XADD", "{q}", "1-1", "a", "1"] }, atOnce,
    ],
  },
  {
    // XREAD's `$` was 5-1 when it blocked: the new stream's entry must be above it to serve it.
    name: "DEL leaves a blocked XREAD waiting, and a new push serves it",
    attempts: true,
    steps: [
      { on: "b", cmd: ["XADD", "{q}", "5-1", "a", "1"] }, { block: ["XREAD", "BLOCK", BLOCK_MS, "STREAMS", "{q}", "$"] },
      { on: "b", cmd: ["DEL", "{q}"] }, { on: "b", cmd: ["EXISTS", "{q}"] }, { on: "b", cmd: ["XADD", "{q}", "6-1", "b", "2"] }, atOnce,
    ],
  },
  {
    name: "DEL leaves a blocked XREAD waiting until its timeout",
    steps: [
      { on: "b", cmd: ["XADD", "{q}", "5-1", "a", "1"] }, { block: ["XREAD", "BLOCK", "400", "STREAMS", "{q}", "$"] },
      { on: "b", cmd: ["DEL", "{q}"] }, { answer: true, within: 2500 },
    ],
  },
];

let runs = 0;

function stripNamespace(reply: Reply, ns: string): Reply {
  return mapReply(reply, (r) => ("value" in r && typeof r.value === "string" ? { ...r, value: r.value.replaceAll(ns, "") } : r));
}

async function blockedClients(client: RespClient): Promise<number> {
  const info = await client.send(["INFO", "clients"]);
  const text = "value" in info && typeof info.value === "string" ? info.value : "";
  return Number(/blocked_clients:(\d+)/.exec(text)?.[1] ?? 0);
}

/** Runs a case on one server; returns each recorded reply rendered (with the timing verdict). */
async function run(port: number, c: BlockCase, protocol: Protocol, side: "redis" | "ezra"): Promise<string[]> {
  const ns = `b${++runs}p${protocol}.`;
  const expand = (cmd: string[]) => cmd.map((a) => a.replace(/\{(\w+)\}/g, (_, k: string) => ns + k));
  const [a, b] = await Promise.all([RespClient.connect(port), RespClient.connect(port)]);
  const shown: string[] = [];
  const record = (reply: Reply) => {
    let r = stripNamespace(reply, ns);
    if (c.attempts && side === "ezra") r = ezraAttemptFields.apply(r, [], new Map());
    shown.push(render(r));
  };
  try {
    if (protocol === 3) await Promise.all([a.send(["HELLO", "3"]), b.send(["HELLO", "3"])]);
    const before = await blockedClients(b);
    let blocked: { reply: Promise<Reply>; at: number } | null = null;
    for (const step of c.steps) {
      if ("block" in step) {
        blocked = { reply: a.send(expand(step.block)), at: performance.now() };
        const deadline = Date.now() + 5000;
        while ((await blockedClients(b)) <= before && Date.now() < deadline) await Bun.sleep(5);
      } else if ("answer" in step) {
        if (!blocked) throw new Error("answer without block");
        record(await blocked.reply);
        shown.push(performance.now() - blocked.at < step.within ? `(within ${step.within} ms)` : `(after ${step.within} ms)`);
        blocked = null;
      } else {
        record(await (step.on === "a" ? a : b).send(expand(step.cmd)));
      }
    }
  } finally {
    a.close();
    b.close();
  }
  return shown;
}

describe("differential: clients blocked while their key or group goes away", () => {
  test("the ezra-side normaliser is documented", () => {
    const doc = readFileSync(DIFFERENCES_DOC, "utf8");
    const rows = doc.split("\n").filter((l) => l.startsWith("|"));
    const missing = cases.filter((c) => c.attempts).map((c) => c.name).filter((n) => !rows.some((row) => row.includes(`\`${n}\``)));
    expect(missing).toEqual([]);
  });
  const haveRedis = needRedis("differential suite 'blocked clients'");
  const ports = haveRedis ? useServers() : noServers;
  for (const c of cases) {
    for (const protocol of [2, 3] as const) {
      test.skipIf(!haveRedis)(`${c.name} (RESP${protocol})`, async () => {
        const [redis, ezra] = await Promise.all([run(ports().redis, c, protocol, "redis"), run(ports().ezra, c, protocol, "ezra")]);
        expect(ezra).toEqual(redis);
      }, 20_000);
    }
  }
});
