// The "lifecycle" workload, identical for every server: P producers XADD N tasks (each keeps up
// to 64 commands in flight), C consumers loop XREADGROUP COUNT K BLOCK 1000 + XACK until all N
// are acked. Also the push-only and backlog (push everything, then drain) variants, a fast
// fill for building big queues, and a one-at-a-time latency probe that runs beside a load.
import { Blob, encode, type Reply, ReplyError, RespClient } from "./client.ts";

export const IN_FLIGHT_PER_PRODUCER = 64;
/** Filling a big queue (backlog, memory, startup) is not a measure of latency: a deeper pipeline fills faster. */
export const FILL_CONNECTIONS = 8;
export const FILL_IN_FLIGHT = 256;
const BLOCK_MS = 1000;
export const GROUP = "bench";

export interface WorkloadSpec {
  producers: number;
  consumers: number;
  /** XREADGROUP COUNT. */
  count: number;
  payloadBytes: number;
  tasks: number;
  /** Producers push in MULTI ... EXEC blocks of this many XADDs (one reply per block counts them all). */
  multiBlock?: number;
}

export interface PushResult {
  seconds: number;
  xaddMs: number[];
}

export interface DrainResult {
  seconds: number;
  /** One sample per XREADGROUP that got tasks: from sending it to its XACK's reply. */
  cycleMs: number[];
  /** Pairs (tasks acked so far, performance.now()) after each XACK, for rates along the drain. */
  marks: number[];
}

const describe = (r: Reply) => (r instanceof ReplyError ? `-${r.message}` : JSON.stringify(r));

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function connectAll(port: number, n: number): Promise<RespClient[]> {
  return Promise.all(Array.from({ length: n }, () => RespClient.connect(port)));
}

/** Runs `work` with a deadline; on timeout (or error) every client is closed. */
async function bounded<T>(clients: RespClient[], deadlineMs: number, what: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${deadlineMs} ms (timeout)`)), deadlineMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    for (const c of clients) c.close();
  }
}

/** Pushes `total` tasks through `clients`, each keeping up to IN_FLIGHT_PER_PRODUCER in flight. */
function produce(
  clients: RespClient[], queue: string, payloadBytes: number, total: number, xaddMs: number[], inFlight = IN_FLIGHT_PER_PRODUCER,
  multiBlock = 0,
): Promise<void> {
  const command = encode(["XADD", queue, "*", "payload", new Uint8Array(payloadBytes).fill(120)]);
  const done = deferred<void>();
  let left = total;
  let outstanding = 0;
  const multi = encode(["MULTI"]);
  const exec = encode(["EXEC"]);
  for (const client of clients) {
    // A block: MULTI, n XADDs (each +QUEUED), EXEC answering n ids; its latency counts for each id.
    const sendBlock = (n: number) => {
      const sentAt = performance.now();
      client.send(multi, (reply) => {
        if (reply !== "OK") done.reject(new Error(`MULTI answered ${describe(reply)}`));
      });
      for (let i = 0; i < n; i++) {
        client.send(command, (reply) => {
          if (reply !== "QUEUED") done.reject(new Error(`XADD in MULTI answered ${describe(reply)}`));
        });
      }
      client.send(exec, (reply) => {
        if (!Array.isArray(reply) || reply.length !== n || reply.some((id) => typeof id !== "string")) {
          return done.reject(new Error(`EXEC answered ${describe(reply)}`));
        }
        const ms = performance.now() - sentAt;
        for (let i = 0; i < n; i++) xaddMs.push(ms);
        outstanding -= n;
        if (left === 0 && outstanding === 0) done.resolve();
        else fill();
      });
    };
    const fill = () => {
      while (multiBlock > 0 && client.inFlight < inFlight && left > 0) {
        const n = Math.min(multiBlock, left);
        left -= n;
        outstanding += n;
        sendBlock(n);
      }
      while (multiBlock === 0 && client.inFlight < inFlight && left > 0) {
        left--;
        outstanding++;
        const sentAt = performance.now();
        client.send(command, (reply) => {
          if (typeof reply !== "string") return done.reject(new Error(`XADD answered ${describe(reply)}`));
          xaddMs.push(performance.now() - sentAt);
          outstanding--;
          if (left === 0 && outstanding === 0) done.resolve();
          else fill();
        });
      }
    };
    fill();
  }
  if (total === 0) done.resolve();
  return done.promise;
}

function send(client: RespClient, command: Uint8Array): Promise<Reply> {
  return new Promise((resolve) => client.send(command, resolve));
}

/** Consumers claim and ack until `total` tasks are acked; resolves at the last ack. */
function consume(clients: RespClient[], queue: string, count: number, payloadBytes: number, total: number): Promise<DrainResult> {
  const done = deferred<DrainResult>();
  const result: DrainResult = { seconds: 0, cycleMs: [], marks: [] };
  const startedAt = performance.now();
  let acked = 0;
  let finished = false;
  const loop = async (client: RespClient, name: string) => {
    const read = encode(["XREADGROUP", "GROUP", GROUP, name, "COUNT", String(count), "BLOCK", String(BLOCK_MS), "STREAMS", queue, ">"]);
    while (!finished) {
      const sentAt = performance.now();
      const reply = await send(client, read);
      if (finished) return;
      if (reply === null) continue; // BLOCK timed out
      const ids = entryIds(reply, payloadBytes);
      const ack = await send(client, encode(["XACK", queue, GROUP, ...ids]));
      if (finished) return;
      if (ack !== ids.length) throw new Error(`XACK of ${ids.length} ids answered ${describe(ack)}`);
      acked += ids.length;
      const now = performance.now();
      result.cycleMs.push(now - sentAt);
      result.marks.push(acked, now);
      if (acked >= total) {
        finished = true;
        result.seconds = (now - startedAt) / 1000;
        done.resolve(result);
      }
    }
  };
  clients.forEach((client, i) => loop(client, `c${i}`).catch((err) => done.reject(err)));
  return done.promise;
}

/** The ids of an XREADGROUP reply for one stream; checks each entry carries the payload. */
export function entryIds(reply: Reply, payloadBytes: number): string[] {
  const streams = reply as Reply[][];
  if (!Array.isArray(streams) || !Array.isArray(streams[0])) throw new Error(`XREADGROUP answered ${describe(reply)}`);
  const entries = streams[0][1] as [string, Reply[]][];
  return entries.map(([id, fields]) => {
    const payload = fields[1];
    const size = payload instanceof Blob ? payload.bytes : typeof payload === "string" ? payload.length : -1;
    if (size !== payloadBytes) throw new Error(`entry ${id} came back without its ${payloadBytes}-byte payload`);
    return id;
  });
}

export async function createGroup(port: number, queue: string): Promise<void> {
  const admin = await RespClient.connect(port);
  try {
    await admin.ok(["XGROUP", "CREATE", queue, GROUP, "0", "MKSTREAM"]);
  } finally {
    admin.close();
  }
}

/** Producers only, nobody consuming: the push rate. */
export async function pushOnly(port: number, queue: string, spec: WorkloadSpec, deadlineMs: number): Promise<PushResult> {
  const producers = await connectAll(port, spec.producers);
  const xaddMs: number[] = [];
  const startedAt = performance.now();
  await bounded(producers, deadlineMs, "push", produce(producers, queue, spec.payloadBytes, spec.tasks, xaddMs));
  return { seconds: (performance.now() - startedAt) / 1000, xaddMs };
}

export interface LifecycleResult extends DrainResult {
  pushSeconds: number;
  xaddMs: number[];
}

/** Pushes `tasks` tasks as fast as the bench can: FILL_CONNECTIONS connections, FILL_IN_FLIGHT XADDs in flight on each. */
export async function fill(port: number, queue: string, tasks: number, payloadBytes: number, deadlineMs: number): Promise<PushResult> {
  const producers = await connectAll(port, FILL_CONNECTIONS);
  const xaddMs: number[] = [];
  const startedAt = performance.now();
  await bounded(producers, deadlineMs, "fill", produce(producers, queue, payloadBytes, tasks, xaddMs, FILL_IN_FLIGHT));
  return { seconds: (performance.now() - startedAt) / 1000, xaddMs };
}

/**
 * Claims `tasks` tasks for one consumer in reads of up to 10,000 (ezra's XREADGROUP COUNT cap)
 * and, when `ack`, acks each read's tasks: moves part of a filled queue to in flight or done.
 */
export async function claimMany(port: number, queue: string, tasks: number, payloadBytes: number, ack: boolean, consumer: string): Promise<void> {
  const client = await RespClient.connect(port);
  try {
    for (let left = tasks; left > 0; ) {
      const count = Math.min(10_000, left);
      const reply = await client.call(["XREADGROUP", "GROUP", GROUP, consumer, "COUNT", String(count), "STREAMS", queue, ">"]);
      if (reply === null) throw new Error(`claim: the queue ran out with ${left} still to claim`);
      const ids = entryIds(reply, payloadBytes);
      left -= ids.length;
      if (ack) {
        const acked = await client.call(["XACK", queue, GROUP, ...ids]);
        if (acked !== ids.length) throw new Error(`XACK of ${ids.length} ids answered ${describe(acked)}`);
      }
    }
  } finally {
    client.close();
  }
}

/** Producers and consumers at once, until every task is acked. */
export async function lifecycle(port: number, queue: string, spec: WorkloadSpec, deadlineMs: number): Promise<LifecycleResult> {
  await createGroup(port, queue);
  const producers = await connectAll(port, spec.producers);
  const consumers = await connectAll(port, spec.consumers);
  const xaddMs: number[] = [];
  const startedAt = performance.now();
  let pushSeconds = 0;
  const pushed = produce(producers, queue, spec.payloadBytes, spec.tasks, xaddMs, IN_FLIGHT_PER_PRODUCER, spec.multiBlock ?? 0).then(() => {
    pushSeconds = (performance.now() - startedAt) / 1000;
  });
  const drained = consume(consumers, queue, spec.count, spec.payloadBytes, spec.tasks);
  const [, drain] = await bounded([...producers, ...consumers], deadlineMs, "lifecycle", Promise.all([pushed, drained]));
  return { ...drain, seconds: (performance.now() - startedAt) / 1000, pushSeconds, xaddMs };
}

/** Fills the queue first (as fast as possible), then drains: how the pop rate holds up from a deep queue to a shallow one. */
export async function backlog(port: number, queue: string, spec: WorkloadSpec, deadlineMs: number) {
  await createGroup(port, queue);
  const push = await fill(port, queue, spec.tasks, spec.payloadBytes, deadlineMs);
  const consumers = await connectAll(port, spec.consumers);
  const drain = await bounded(consumers, deadlineMs, "drain", consume(consumers, queue, spec.count, spec.payloadBytes, spec.tasks));
  return { push, drain };
}

/** Tasks per second while the acked count went from `from` to `to` (measured at XACK replies). */
export function rateBetween(marks: number[], from: number, to: number): number {
  let a = -1;
  let b = -1;
  for (let i = 0; i < marks.length; i += 2) {
    if (a < 0 && marks[i] >= from) a = i;
    if (marks[i] >= to) {
      b = i;
      break;
    }
  }
  if (a < 0 || b <= a) return Number.NaN;
  return (marks[b] - marks[a]) / ((marks[b + 1] - marks[a + 1]) / 1000);
}

export interface ProbeResult {
  /** One sample per XADD → XREADGROUP COUNT 1 → XACK cycle, and per command of it, in ms. */
  cycleMs: number[];
  xaddMs: number[];
  readMs: number[];
  ackMs: number[];
}

/**
 * One extra client on its own queue: XADD, then XREADGROUP COUNT 1, then XACK, each sent only
 * after the previous reply, until `stop` settles. Its own queue so it never takes the load's tasks;
 * the same server, so it waits behind the load's commits like any client would.
 */
export async function latencyProbe(port: number, queue: string, payloadBytes: number, stop: Promise<unknown>): Promise<ProbeResult> {
  await createGroup(port, queue);
  const client = await RespClient.connect(port);
  const result: ProbeResult = { cycleMs: [], xaddMs: [], readMs: [], ackMs: [] };
  let stopped = false;
  const halt = () => {
    stopped = true;
  };
  stop.then(halt, halt);
  const add = encode(["XADD", queue, "*", "payload", new Uint8Array(payloadBytes).fill(120)]);
  const read = encode(["XREADGROUP", "GROUP", GROUP, "probe", "COUNT", "1", "STREAMS", queue, ">"]);
  try {
    // At least one cycle, so even a load that ends at once leaves a sample.
    do {
      const t0 = performance.now();
      const id = await send(client, add);
      const t1 = performance.now();
      if (typeof id !== "string") throw new Error(`probe XADD answered ${describe(id)}`);
      const ids = entryIds(await send(client, read), payloadBytes);
      const t2 = performance.now();
      if (ids.length !== 1 || ids[0] !== id) throw new Error(`probe XREADGROUP returned ${JSON.stringify(ids)}, expected [${id}]`);
      const ack = await send(client, encode(["XACK", queue, GROUP, id]));
      const t3 = performance.now();
      if (ack !== 1) throw new Error(`probe XACK answered ${describe(ack)}`);
      result.xaddMs.push(t1 - t0);
      result.readMs.push(t2 - t1);
      result.ackMs.push(t3 - t2);
      result.cycleMs.push(t3 - t0);
    } while (!stopped);
  } finally {
    client.close();
  }
  return result;
}
