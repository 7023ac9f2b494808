// Differential harness: runs one command script on a real redis-server and on ezra, in RESP2
// and RESP3, and compares the typed replies. Nothing may differ unless a case says so.
//
// Adding a case is one entry in a `Case[]` passed to differentialSuite() (see streams.test.ts):
//   { name: "XADD explicit id", script: [["XADD", "{q}", "1-1", "a", "1"]] }
// - `{q}` is a key: the runner gives each case and protocol its own prefix (on both servers),
//   and strips it from replies again. `{@N}` is the text of this server's reply to step N (from 0).
// - Replies must match exactly (type and value) unless the case lists `normalise` functions
//   from normalisers.ts: side "both" ones hide values that differ by nature (autoIds,
//   clientIds, serverVersions); side "ezra" ones hide a declared ezra difference and need
//   `because` (and fail when they no longer change anything); side "redis" ones map an older
//   redis-server's wording to the Redis 7.2 text ezra follows, and need `because` too.
// - An intended difference is a case with `expectDifferent: "why"` and `ezra: [...]`, ezra's
//   rendered replies (render() in resp-client.ts): the runner asserts Redis answers
//   differently and ezra answers exactly that. Give `redis: [...]` too to pin Redis's answer.
// - Every case with `expectDifferent` or a one-sided normaliser must be named, in backticks,
//   in a row of docs/differences.md; differentialSuite() checks it.
// - `protocols: [2]` limits a case to one protocol; `ezra`/`redis` may be a function of the
//   protocol, built with the helpers of expected.ts: `ezra: (p) => [OK, read(p, [...])]`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RespClient, type Reply, render } from "../helpers/resp-client.ts";
import { type EzraProcess, type RedisProcess, ROOT, removeDir, startEzra, startRedis } from "../helpers/servers.ts";
import { requireTool, TOOLS } from "../helpers/tools.ts";
import { mapReply, type Normaliser, type Step } from "./normalisers.ts";

export type Protocol = 2 | 3;
/** Rendered replies, one per step: the same for both protocols, or built per protocol. */
export type Recorded = string[] | ((protocol: Protocol) => string[]);

export interface Case {
  name: string;
  script: Step[];
  normalise?: Normaliser[];
  /** Why an ezra-side normaliser is right; required with one. */
  because?: string;
  /** Why ezra answers differently on purpose; then `ezra` is required. */
  expectDifferent?: string;
  ezra?: Recorded;
  redis?: Recorded;
  protocols?: Protocol[];
  /** Steps run on ezra alone before the script (ezra's own settings, e.g. EZRA CONFIG SET); replies not compared. */
  ezraSetup?: Step[];
}

export interface Ports {
  redis: number;
  ezra: number;
}

const SERVER_START_MS = 30_000;
export const DIFFERENCES_DOC = join(ROOT, "docs", "differences.md");

let runCounter = 0;

/** Script arguments with `{key}` prefixed by `ns` and `{@N}` replaced by reply N's text. */
function expand(arg: string, ns: string, replies: Reply[]): string {
  return arg.replace(/\{(@?)([\w:.-]+)\}/g, (whole, at: string, name: string) => {
    if (!at) return ns + name;
    const r = replies[Number(name)];
    if (!r || !("value" in r) || typeof r.value !== "string") throw new Error(`${whole}: step ${name} has no text reply`);
    return r.value;
  });
}

/** Strips the key prefix from every string in a reply, so both servers' replies read `q`. */
function stripNamespace(reply: Reply, ns: string): Reply {
  return mapReply(reply, (r) => ("value" in r && typeof r.value === "string" ? { ...r, value: r.value.replaceAll(ns, "") } : r));
}

/** Runs a script on a fresh connection (HELLO 3 first for RESP3) and returns the raw replies. */
export async function runScript(port: number, script: Step[], protocol: Protocol, ns: string): Promise<Reply[]> {
  const client = await RespClient.connect(port);
  try {
    if (protocol === 3) {
      const hello = await client.send(["HELLO", "3"]);
      if (hello.type !== "map") throw new Error(`HELLO 3 answered ${render(hello)}`);
    }
    const replies: Reply[] = [];
    for (const step of script) replies.push(await client.send(step.map((a) => expand(a, ns, replies))));
    return replies;
  } finally {
    client.close();
  }
}

interface Transcript {
  replies: Reply[];
  /** Names of one-sided normalisers that changed at least one reply. */
  used: Set<string>;
}

function normalise(raw: Reply[], c: Case, ns: string, side: "redis" | "ezra"): Transcript {
  const state = new Map<string, string>();
  const used = new Set<string>();
  const replies = raw.map((reply, i) => {
    let r = stripNamespace(reply, ns);
    for (const n of c.normalise ?? []) {
      if (n.side !== "both" && n.side !== side) continue;
      const before = render(r);
      r = n.apply(r, c.script[i], state);
      if (n.side !== "both" && render(r) !== before) used.add(n.name);
    }
    return r;
  });
  return { replies, used };
}

function recorded(r: Recorded | undefined, protocol: Protocol): string[] | undefined {
  return r === undefined || Array.isArray(r) ? r : r(protocol);
}

/** A side-by-side listing of a case's steps and both servers' (normalised) replies. */
function listing(c: Case, redis: string[], ezra: string[]): string {
  return c.script
    .map((step, i) => `  ${i}: ${step.join(" ")}\n     redis: ${redis[i]}\n     ezra:  ${ezra[i]}${redis[i] === ezra[i] ? "" : "   <-- differs"}`)
    .join("\n");
}

/** Runs one case on both servers; returns what is wrong (empty when the case holds). */
export async function checkCase(ports: Ports, c: Case, protocol: Protocol): Promise<string[]> {
  const problems: string[] = [];
  const oneSided = (c.normalise ?? []).filter((n) => n.side !== "both");
  if (oneSided.length > 0 && !c.because) problems.push(`uses ${oneSided.map((n) => n.name).join(", ")} without saying 'because'`);
  if (c.expectDifferent && !c.ezra) problems.push("expectDifferent needs `ezra`: ezra's recorded replies");
  if (problems.length) return problems;

  const ns = `d${++runCounter}p${protocol}.`;
  if (c.ezraSetup) await runScript(ports.ezra, c.ezraSetup, protocol, ns);
  const [redisRaw, ezraRaw] = await Promise.all([
    runScript(ports.redis, c.script, protocol, ns),
    runScript(ports.ezra, c.script, protocol, ns),
  ]);
  const redis = normalise(redisRaw, c, ns, "redis");
  const ezra = normalise(ezraRaw, c, ns, "ezra");
  const redisText = redis.replies.map(render);
  const ezraText = ezra.replies.map(render);
  const show = () => listing(c, redisText, ezraText);

  for (const n of oneSided) {
    if (n.side === "ezra" && !ezra.used.has(n.name)) problems.push(`exception ${n.name} changed nothing: remove it, ezra now matches\n${show()}`);
  }
  if (c.expectDifferent) {
    if (JSON.stringify(redisText) === JSON.stringify(ezraText)) {
      problems.push(`expected a difference (${c.expectDifferent}) but both answered the same\n${show()}`);
    }
    const wantEzra = recorded(c.ezra, protocol);
    if (JSON.stringify(wantEzra) !== JSON.stringify(ezraText)) {
      problems.push(`ezra's replies changed\n  recorded: ${JSON.stringify(wantEzra)}\n  now:      ${JSON.stringify(ezraText)}`);
    }
    const wantRedis = recorded(c.redis, protocol);
    if (wantRedis && JSON.stringify(wantRedis) !== JSON.stringify(redisText)) {
      problems.push(`redis's replies changed\n  recorded: ${JSON.stringify(wantRedis)}\n  now:      ${JSON.stringify(redisText)}`);
    }
  } else if (JSON.stringify(redisText) !== JSON.stringify(ezraText)) {
    problems.push(`replies differ\n${show()}`);
  }
  return problems;
}

/** Names of cases that must have a row in docs/differences.md. */
export function documentedDifferences(cases: Case[]): string[] {
  return cases.filter((c) => c.expectDifferent || c.normalise?.some((n) => n.side !== "both")).map((c) => c.name);
}

/**
 * True when redis-server is installed; otherwise prints the skip line once for `what` (or, under
 * CI=true, registers the failing test), so call it while collecting tests.
 */
export function needRedis(what: string): boolean {
  return requireTool(TOOLS.redisServer, what);
}

/** Starts redis-server and ezra for the enclosing describe(); `ports()` is valid inside tests. */
export function useServers(): () => Ports {
  let redis: RedisProcess | undefined;
  let ezra: EzraProcess | undefined;
  beforeAll(async () => {
    [redis, ezra] = await Promise.all([startRedis(), startEzra()]);
  }, SERVER_START_MS);
  afterAll(async () => {
    await redis?.stop();
    if (ezra) {
      expect(await ezra.stop()).toBe(0);
      removeDir(ezra.dataDir);
    }
  }, SERVER_START_MS);
  return () => {
    if (!redis || !ezra) throw new Error("servers not started");
    return { redis: redis.port, ezra: ezra.port };
  };
}

/** Stands in for useServers() where redis-server is missing (the tests using it are skipped). */
export const noServers = (): Ports => {
  throw new Error("redis-server is not installed");
};

/** Registers one test per case and protocol, plus the check that differences are documented. */
export function differentialSuite(title: string, cases: Case[]): void {
  describe(title, () => {
    const names = cases.map((c) => c.name);
    test("case names are unique", () => {
      expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    });
    test("every intended difference has a row in docs/differences.md", () => {
      const doc = readFileSync(DIFFERENCES_DOC, "utf8");
      const rows = doc.split("\n").filter((l) => l.startsWith("|"));
      const missing = documentedDifferences(cases).filter((n) => !rows.some((row) => row.includes(`\`${n}\``)));
      expect(missing).toEqual([]);
    });
    const haveRedis = needRedis(`differential suite '${title}'`);
    const ports = haveRedis ? useServers() : noServers;
    for (const c of cases) {
      for (const protocol of c.protocols ?? [2, 3]) {
        test.skipIf(!haveRedis)(`${c.name} (RESP${protocol})`, async () => {
          expect(await checkCase(ports(), c, protocol)).toEqual([]);
        });
      }
    }
  });
}
