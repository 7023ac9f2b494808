// Side-by-side benchmark of ezra against redis-server, same client code, same machine, one run.
// Usage: bun scripts/bench.ts [--preset 8x8,8x8-multi,1x1,push,fat,backlog,latency,memory,idle-cpu,startup]
//        [--servers ezra-full,ezra-normal,redis,redis-aof] [--n TASKS] [--quick] [--binary PATH]
// JSON lines on stdout, progress and a summary table on stderr. See docs/performance.md.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ddRate, sampleWal, type WalSampler } from "./bench/disk.ts";
import { idleCpu, memory, startup } from "./bench/resources.ts";
import { emit, log, machine, percentile, ratios, summary } from "./bench/report.ts";
import { cleanupAll, CONNECTIONS_ALLOWED, ROOT, startServer, type TargetSpec, targets } from "./bench/servers.ts";
import { backlog, IN_FLIGHT_PER_PRODUCER, latencyProbe, lifecycle, pushOnly, rateBetween, type WorkloadSpec } from "./bench/workload.ts";

const KiB = 1024;
type Preset = WorkloadSpec & { quickTasks: number };
const WORKLOADS: Record<string, Preset> = {
  "8x8": { producers: 8, consumers: 8, count: 16, payloadBytes: 64, tasks: 200_000, quickTasks: 5_000 },
  // The 8x8 load with producers pushing in MULTI blocks of 16 XADDs (a batch that must land whole).
  "8x8-multi": { producers: 8, consumers: 8, count: 16, payloadBytes: 64, tasks: 200_000, quickTasks: 5_000, multiBlock: 16 },
  "1x1": { producers: 1, consumers: 1, count: 1, payloadBytes: 64, tasks: 20_000, quickTasks: 1_000 },
  // Producers only (nobody consumes), each pipelining 64 XADDs.
  push: { producers: 8, consumers: 0, count: 0, payloadBytes: 64, tasks: 200_000, quickTasks: 5_000 },
  // 16 KiB payloads: 20,000 of them are 320 MiB per server, which keeps the run bounded.
  fat: { producers: 8, consumers: 8, count: 16, payloadBytes: 16 * KiB, tasks: 20_000, quickTasks: 500 },
  // 1,000,000 keeps a default run to minutes; --n 10000000 is the 10M case.
  backlog: { producers: 8, consumers: 8, count: 16, payloadBytes: 64, tasks: 1_000_000, quickTasks: 20_000 },
  // The 8x8 load, with one more client probing round-trip latency beside it.
  latency: { producers: 8, consumers: 8, count: 16, payloadBytes: 64, tasks: 200_000, quickTasks: 5_000 },
};
const RESOURCE_PRESETS = ["memory", "idle-cpu", "startup"];
const ALL_PRESETS = [...Object.keys(WORKLOADS), ...RESOURCE_PRESETS];
const DEFAULT_SERVERS = ["ezra-full", "ezra-normal", "redis", "redis-aof"];

const IDLE_CONNECTIONS = 10_000;
const BLOCKED_CLIENTS = 100;
const IDLE_CPU_SECONDS = 10;
const STARTUP_TASKS = 1_000_000;
const MEMORY_TASKS = 1_000_000;
/** The backlog's pop+ack rate with N waiting is compared with the rate at this many waiting. */
const BACKLOG_REFERENCE_WAITING = 10_000;
/** dd's 64 KiB blocks: 2,000 (131 MB) as the issue says; fewer under --quick. */
const DD_BLOCKS = 2_000;
const QUICK_DD_BLOCKS = 200;
/** Longest any one phase (push, lifecycle, drain) may take before it is reported as a timeout. */
const PHASE_DEADLINE_MS = 10 * 60_000;
const QUICK_PHASE_DEADLINE_MS = 60_000;
const DEADLINE_TASKS_PER_SEC_MIN = 5_000;

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\nusage: bun scripts/bench.ts [--preset ${ALL_PRESETS.join(",")}] ` +
    `[--servers ${[...targets("").keys()].join(",")}] [--n TASKS] [--quick] [--binary PATH]\n`);
  process.exit(2);
}

function parseFlags() {
  return parseArgs({
    args: Bun.argv.slice(2),
    options: {
      preset: { type: "string", default: ALL_PRESETS.join(",") },
      servers: { type: "string", default: DEFAULT_SERVERS.join(",") },
      n: { type: "string" },
      quick: { type: "boolean", default: false },
      binary: { type: "string", default: join(ROOT, "ezra") },
      help: { type: "boolean", default: false },
    },
  });
}
let parsed: ReturnType<typeof parseFlags>;
try {
  parsed = parseFlags();
} catch (err) {
  usage((err as Error).message); // an unknown flag: the usage line, exit 2
}
const flags = parsed.values;
if (flags.help) usage("a side-by-side benchmark of ezra and redis-server");
const quick = flags.quick === true;
const presets = flags.preset!.split(",").map((p) => p.trim()).filter(Boolean);
for (const p of presets) if (!ALL_PRESETS.includes(p)) usage(`--preset: unknown preset '${p}'`);
const known = targets(flags.binary!);
const servers: TargetSpec[] = flags.servers!.split(",").map((name) => known.get(name.trim()) ?? usage(`--servers: unknown server '${name}'`));
const nOverride = flags.n === undefined ? null : Number(flags.n);
if (nOverride !== null && !(Number.isSafeInteger(nOverride) && nOverride > 0)) usage(`--n: expected a positive whole number, got '${flags.n}'`);
if (servers.some((s) => s.kind === "redis") && !Bun.which("redis-server")) usage("redis-server is not on PATH");
if (servers.some((s) => s.name.startsWith("ezra-bin")) && !existsSync(flags.binary!)) usage(`--binary: ${flags.binary} does not exist (bun run build)`);
/** The phase deadline for `tasks` tasks: the fixed one, or longer for big --n (10M tasks at 5,000/s is 2,000 s). */
const deadlineFor = (tasks: number) => Math.max(quick ? QUICK_PHASE_DEADLINE_MS : PHASE_DEADLINE_MS, tasks / DEADLINE_TASKS_PER_SEC_MIN * 1000);

// Children die with us, whatever the way out.
process.on("exit", cleanupAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    log(`bench: ${signal}, stopping servers`);
    cleanupAll();
    process.exit(130);
  });
}

/** Raises this process's open-file limit to its hard limit (children inherit it); returns the new soft limit. */
function raiseFileLimit(): number {
  Bun.spawnSync(["prlimit", "--pid", String(process.pid), "--nofile=unlimited:unlimited"]);
  const hard = Bun.spawnSync(["sh", "-c", "ulimit -Hn"]).stdout.toString().trim();
  if (/^\d+$/.test(hard)) Bun.spawnSync(["prlimit", "--pid", String(process.pid), `--nofile=${hard}:${hard}`]);
  const soft = Bun.spawnSync(["prlimit", "--pid", String(process.pid), "--nofile", "--output", "SOFT", "--noheadings"]);
  const n = Number(soft.stdout.toString().trim());
  return Number.isFinite(n) ? n : 1024;
}

/** WAL fields of a row: sampled for ezra; redis has no WAL, so null (blank in the summary). */
function walFields(sampler: WalSampler | null) {
  return sampler ? sampler.stop() : { walMaxBytes: null, walFinalBytes: null };
}

const fixed = (v: number, digits: number) => Number(v.toFixed(digits));
const MB = 1e6;

async function runWorkload(name: string, preset: Preset, target: TargetSpec): Promise<void> {
  const { quickTasks, ...shape } = preset;
  const spec: WorkloadSpec = { ...shape, tasks: nOverride ?? (quick ? quickTasks : preset.tasks) };
  const server = await startServer(target);
  const base = { preset: name, server: target.name, ...spec };
  const deadlineMs = deadlineFor(spec.tasks);
  const sampler = target.kind === "ezra" ? sampleWal(server.dataDir) : null;
  try {
    if (name === "backlog") {
      const { push, drain } = await backlog(server.port, "backlog", spec, deadlineMs);
      const wal = walFields(sampler);
      const window = Math.max(100, Math.floor(spec.tasks / 50));
      const end = spec.tasks - Math.min(1000, Math.floor(spec.tasks / 10));
      const drainStartPerSec = rateBetween(drain.marks, 0, window);
      const drainEndPerSec = rateBetween(drain.marks, end - window, end);
      // Same-size windows: one with ~N waiting (after the first window, which includes warm-up), one
      // starting at 10,000 waiting (half of N for small runs).
      const reference = Math.min(BACKLOG_REFERENCE_WAITING, Math.floor(spec.tasks / 2));
      const w = Math.max(1, Math.floor(reference / 2));
      const deepPerSec = rateBetween(drain.marks, w, 2 * w);
      const shallowPerSec = rateBetween(drain.marks, spec.tasks - reference, spec.tasks - reference + w);
      emit({
        kind: "backlog", ...base, tasksPerSec: Math.round(spec.tasks / drain.seconds), pushPerSec: Math.round(spec.tasks / push.seconds),
        xaddP50Ms: percentile(push.xaddMs, 50), xaddP99Ms: percentile(push.xaddMs, 99),
        cycleP50Ms: percentile(drain.cycleMs, 50), cycleP99Ms: percentile(drain.cycleMs, 99),
        drainStartPerSec: Math.round(drainStartPerSec), drainEndPerSec: Math.round(drainEndPerSec),
        queuedAtEnd: spec.tasks - end, flat: fixed(drainStartPerSec / drainEndPerSec, 2),
        windowTasks: w, deepWaiting: spec.tasks - w, deepPerSec: Math.round(deepPerSec),
        shallowWaiting: reference, shallowPerSec: Math.round(shallowPerSec), deepVsShallow: fixed(deepPerSec / shallowPerSec, 2),
        ...wal,
      });
      return;
    }
    if (name === "push") {
      const push = await pushOnly(server.port, "pushonly", spec, deadlineMs);
      emit({
        kind: "push", ...base, inFlightPerProducer: IN_FLIGHT_PER_PRODUCER, tasksPerSec: Math.round(spec.tasks / push.seconds),
        xaddP50Ms: percentile(push.xaddMs, 50), xaddP99Ms: percentile(push.xaddMs, 99), ...walFields(sampler),
      });
      return;
    }
    if (name === "latency") {
      const load = lifecycle(server.port, "tasks", spec, deadlineMs);
      const [life, probe] = await Promise.all([load, latencyProbe(server.port, "probe", spec.payloadBytes, load)]);
      const ms = (samples: number[], p: number) => percentile(samples, p);
      emit({
        kind: "latency", ...base, loadTasksPerSec: Math.round(spec.tasks / life.seconds), probeCycles: probe.cycleMs.length,
        cycleP50Ms: ms(probe.cycleMs, 50), cycleP99Ms: ms(probe.cycleMs, 99), cycleMaxMs: ms(probe.cycleMs, 100),
        xaddP50Ms: ms(probe.xaddMs, 50), xaddP99Ms: ms(probe.xaddMs, 99),
        readP50Ms: ms(probe.readMs, 50), readP99Ms: ms(probe.readMs, 99),
        ackP50Ms: ms(probe.ackMs, 50), ackP99Ms: ms(probe.ackMs, 99),
        ...walFields(sampler),
      });
      return;
    }
    const life = await lifecycle(server.port, "tasks", spec, deadlineMs);
    // The WAL is sampled over the lifecycle phase only: that is the sustained push+pop+ack load.
    const wal = walFields(sampler);
    const push = await pushOnly(server.port, "pushonly", spec, deadlineMs);
    const payloadMB = (spec.tasks * spec.payloadBytes) / MB;
    emit({
      kind: "lifecycle", ...base, tasksPerSec: Math.round(spec.tasks / life.seconds), pushPerSec: Math.round(spec.tasks / push.seconds),
      pushUnderLoadPerSec: Math.round(spec.tasks / life.pushSeconds),
      xaddP50Ms: percentile(life.xaddMs, 50), xaddP99Ms: percentile(life.xaddMs, 99),
      cycleP50Ms: percentile(life.cycleMs, 50), cycleP99Ms: percentile(life.cycleMs, 99),
      ...wal,
      // fat: payload written per second, next to what the same file system's fsync'd sequential writes reach.
      ...(name === "fat"
        ? {
            payloadMBps: fixed(payloadMB / life.seconds, 1),
            pushPayloadMBps: fixed(payloadMB / push.seconds, 1),
            ...ddRate(server.dataDir, quick ? QUICK_DD_BLOCKS : DD_BLOCKS),
          }
        : {}),
    });
  } finally {
    sampler?.stop();
    await server.stop();
  }
}

async function runResource(name: string, target: TargetSpec, fileLimit: number): Promise<void> {
  if (name === "startup") {
    if (target.kind !== "ezra") return; // a database of ezra tasks; redis has no counterpart
    const tasks = nOverride ?? (quick ? STARTUP_TASKS / 20 : STARTUP_TASKS);
    emit({ kind: "startup", server: target.name, ...(await startup(target, tasks, 64, deadlineFor(tasks))) });
    return;
  }
  const server = await startServer(target);
  try {
    if (name === "memory") {
      const wanted = quick ? IDLE_CONNECTIONS / 10 : IDLE_CONNECTIONS;
      const connections = Math.min(wanted, CONNECTIONS_ALLOWED - 50, fileLimit - 200);
      if (connections < wanted) log(`bench: only ${connections} connections (open-file limit ${fileLimit})`);
      const tasks = nOverride ?? (quick ? MEMORY_TASKS / 50 : MEMORY_TASKS);
      emit({ kind: "memory", server: target.name, ...(await memory(server, connections, tasks, 64, deadlineFor(tasks))) });
    } else {
      const seconds = quick ? 2 : IDLE_CPU_SECONDS;
      const r = await idleCpu(server, BLOCKED_CLIENTS, seconds);
      emit({ kind: "idle-cpu", server: target.name, ...r, cpuSecondsPer10s: Number(((r.cpuSeconds * 10) / seconds).toFixed(3)) });
    }
  } finally {
    await server.stop();
  }
}

/** Measures that ended in an error row: the run exits 1 if there were any. */
let failures = 0;

async function main(): Promise<void> {
  const fileLimit = raiseFileLimit();
  emit(machine());
  for (const name of presets) {
    for (const target of servers) {
      const began = performance.now();
      log(`bench: ${name} on ${target.name} ...`);
      try {
        if (WORKLOADS[name]) await runWorkload(name, WORKLOADS[name], target);
        else await runResource(name, target, fileLimit);
      } catch (err) {
        failures++;
        emit({ kind: "error", preset: name, server: target.name, message: (err as Error).message });
      }
      log(`bench: ${name} on ${target.name} took ${((performance.now() - began) / 1000).toFixed(1)} s`);
    }
  }
  for (const row of ratios()) emit(row);
  log(`\n${summary()}`);
  if (failures > 0) {
    log(`bench: ${failures} measure(s) failed (see the "error" rows)`);
    process.exitCode = 1;
  }
}

try {
  await main();
} finally {
  cleanupAll();
}
