// Live fuzzing: many TCP connections send seeded garbage to a real server while a well-behaved
// client keeps pushing, popping and acking on its own connection; afterwards the server must be
// alive, still serve a new client, and its RSS must not have grown without bound.
import { readFileSync } from "node:fs";
import Redis from "ioredis";
import { removeDir, startEzra } from "../test/helpers/servers.ts";
import { generateInput, mulberry32, type Rand } from "./fuzz-inputs.ts";

/** How long a garbage connection waits for more reply bytes before it hangs up itself. */
const IDLE_MS = 100;
/** A connection is given up after this long even if the server keeps talking (BLOCK 0, big replies). */
const CONNECTION_MS_MAX = 2000;
const RSS_GROWTH_MAX_BYTES = 256 * 1024 * 1024;

export interface LiveFuzzOptions {
  seed: number;
  connections: number;
  /** Connections open at once. */
  concurrency?: number;
  /** A running server to attack; without it one is started on a temp data dir. */
  port?: number;
  progress?: (line: string) => void;
}

export interface LiveFuzzSummary {
  seed: number;
  connections: number;
  bytesSent: number;
  replyBytes: number;
  closedByServer: number;
  protocolErrorReplies: number;
  probeRounds: number;
  serverRssStartBytes: number | null;
  serverRssEndBytes: number | null;
  serverExitCode: number | null;
  elapsedMs: number;
  findings: string[];
}

function rssOf(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : null;
}

// One garbage connection: writes 1-3 inputs in separate writes, reads until the server closes or idles.
async function garbageConnection(port: number, rand: Rand, s: LiveFuzzSummary): Promise<void> {
  const inputs = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => generateInput(rand));
  let lastData = Date.now();
  let closed = false;
  let firstReply = "";
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_socket, chunk) {
        lastData = Date.now();
        s.replyBytes += chunk.length;
        if (firstReply.length < 64) firstReply += Buffer.from(chunk.subarray(0, 64)).toString("latin1");
      },
      close() {
        closed = true;
      },
      error() {
        closed = true;
      },
    },
  });
  const started = Date.now();
  for (const input of inputs) {
    if (closed) break;
    let rest = input;
    while (rest.length > 0 && !closed && Date.now() - started < CONNECTION_MS_MAX) {
      const n = socket.write(rest);
      s.bytesSent += Math.max(0, n);
      rest = rest.subarray(Math.max(0, n));
      if (rest.length > 0) await Bun.sleep(1);
    }
    await Bun.sleep(0);
  }
  while (!closed && Date.now() - lastData < IDLE_MS && Date.now() - started < CONNECTION_MS_MAX) await Bun.sleep(5);
  if (closed) s.closedByServer++;
  if (firstReply.includes("Protocol error")) s.protocolErrorReplies++;
  socket.end();
}

function probeClient(port: number): Redis {
  // No retries or offline queue: a dropped connection must surface as an error, not be hidden.
  return new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, lazyConnect: true });
}

// Push, pop and ack one task; any deviation is a finding.
async function probeRound(client: Redis, queue: string, round: number): Promise<string | null> {
  const payload = `probe-${round}`;
  const id = await client.xadd(queue, "*", "payload", payload);
  const read = (await client.xreadgroup("GROUP", "g", "probe", "COUNT", "1", "STREAMS", queue, ">")) as [string, [string, string[]][]][] | null;
  const entry = read?.[0]?.[1]?.[0];
  if (!entry || entry[0] !== id || entry[1][1] !== payload) return `probe round ${round}: pushed ${id}, popped ${JSON.stringify(read)}`;
  const acked = await client.xack(queue, "g", id as string);
  return acked === 1 ? null : `probe round ${round}: XACK answered ${acked}`;
}

/** Runs `connections` garbage connections against a server (started here unless `port` is given). */
export async function fuzzLive(options: LiveFuzzOptions): Promise<LiveFuzzSummary> {
  const started = Date.now();
  const server = options.port === undefined ? await startEzra({ args: ["--durability", "normal"] }) : null;
  const port = options.port ?? server!.port;
  const pid = server?.proc.pid;
  const rand = mulberry32(options.seed ^ 0x11fe);
  const s: LiveFuzzSummary = {
    seed: options.seed, connections: 0, bytesSent: 0, replyBytes: 0, closedByServer: 0, protocolErrorReplies: 0,
    probeRounds: 0, serverRssStartBytes: rssOf(pid), serverRssEndBytes: null, serverExitCode: null, elapsedMs: 0, findings: [],
  };
  const queue = `fuzz-live-probe-${options.seed}`;
  const probe = probeClient(port);
  await probe.connect();
  let storming = true;
  const prober = (async () => {
    while (storming) {
      const finding = await probeRound(probe, queue, s.probeRounds).catch((err: Error) => `probe round ${s.probeRounds}: ${err.message}`);
      if (finding) return s.findings.push(finding);
      s.probeRounds++;
      await Bun.sleep(5);
    }
  })();
  const concurrency = options.concurrency ?? 32;
  const progressEvery = Math.max(1, Math.floor(options.connections / 10));
  let next = 0;
  const worker = async () => {
    while (next < options.connections) {
      const i = next++;
      await garbageConnection(port, rand, s).catch((err: Error) => s.findings.push(`garbage connection ${i}: ${err.message}`));
      s.connections++;
      if (s.connections % progressEvery === 0) {
        options.progress?.(`live: ${s.connections}/${options.connections} connections, ${s.closedByServer} closed by the server, ${s.probeRounds} probe rounds`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  storming = false;
  await prober;
  probe.disconnect();
  // A brand-new client after the storm.
  const after = probeClient(port);
  await after.connect();
  const finding = await probeRound(after, queue, -1).catch((err: Error) => `probe after the storm: ${err.message}`);
  if (finding) s.findings.push(finding);
  after.disconnect();
  s.serverRssEndBytes = rssOf(pid);
  if (s.serverRssStartBytes !== null && s.serverRssEndBytes !== null && s.serverRssEndBytes - s.serverRssStartBytes > RSS_GROWTH_MAX_BYTES) {
    s.findings.push(`server RSS grew from ${s.serverRssStartBytes} to ${s.serverRssEndBytes} bytes`);
  }
  if (server) {
    s.serverExitCode = await server.stop();
    if (s.serverExitCode !== 0) s.findings.push(`server exited with ${s.serverExitCode}: ${server.output().slice(-2000)}`);
    removeDir(server.dataDir);
  }
  s.elapsedMs = Date.now() - started;
  return s;
}
