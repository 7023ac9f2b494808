// Benchmark output: one JSON object per line on stdout (machine-readable), progress and short
// tables on stderr (for people), and the ratios ezra/redis that the targets are about.
import { cpus, totalmem } from "node:os";

export type Row = Record<string, unknown> & { kind: string };

const rows: Row[] = [];

export function emit(row: Row): void {
  rows.push(row);
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** The p-th percentile (0..100) of samples, in the samples' unit, rounded to 0.01. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[at] * 100) / 100;
}

export function machine(): Row {
  const kernel = Bun.spawnSync(["uname", "-sr"]).stdout.toString().trim();
  // Absent redis-server (an ezra-only run) is reported, not a crash.
  const redis = Bun.which("redis-server")
    ? (Bun.spawnSync(["redis-server", "--version"]).stdout.toString().match(/v=(\S+)/)?.[1] ?? "?")
    : "absent";
  return {
    kind: "run",
    date: new Date().toISOString(),
    command: `bun scripts/bench.ts ${process.argv.slice(2).join(" ")}`.trim(),
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel,
    bun: Bun.version,
    redis,
  };
}

const num = (v: unknown, digits = 0) =>
  typeof v === "number" && Number.isFinite(v) ? v.toLocaleString("en-US", { maximumFractionDigits: digits }) : "-";

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** Row kinds whose tasksPerSec is compared with redis: the throughput targets of the issue. */
const RATIO_KINDS = ["lifecycle", "push", "backlog"];

/** Ratios of every ezra target to every redis target, per workload, on tasks/s. */
export function ratios(): Row[] {
  const out: Row[] = [];
  const workloads = rows.filter((r) => RATIO_KINDS.includes(r.kind));
  for (const e of workloads.filter((r) => String(r.server).startsWith("ezra"))) {
    for (const r of workloads.filter((x) => x.kind === e.kind && x.preset === e.preset && String(x.server).startsWith("redis"))) {
      const ratio = (e.tasksPerSec as number) / (r.tasksPerSec as number);
      out.push({ kind: "ratio", preset: e.preset, ezra: e.server, redis: r.server, ratio: Number(ratio.toFixed(2)) });
    }
  }
  return out;
}

/** WAL max / final in MiB; blank for redis (no WAL). */
function walCell(r: Row): string {
  if (typeof r.walMaxBytes !== "number") return "";
  return `${num(r.walMaxBytes / 2 ** 20, 1)} / ${num((r.walFinalBytes as number) / 2 ** 20, 1)}`;
}

/** The human summary of everything emitted so far. */
export function summary(): string {
  const parts: string[] = [];
  const life = rows.filter((r) => RATIO_KINDS.includes(r.kind));
  if (life.length > 0) {
    parts.push(
      table(
        ["preset", "server", "tasks/s", "push/s", "xadd p50/p99 ms", "pop→ack p50/p99 ms", "drain start→end /s", "WAL max / final MiB"],
        life.map((r) => [
          String(r.preset), String(r.server), num(r.tasksPerSec), r.kind === "push" ? num(r.tasksPerSec) : num(r.pushPerSec),
          `${num(r.xaddP50Ms, 2)} / ${num(r.xaddP99Ms, 2)}`, r.kind === "push" ? "" : `${num(r.cycleP50Ms, 2)} / ${num(r.cycleP99Ms, 2)}`,
          r.kind === "backlog" ? `${num(r.drainStartPerSec)} → ${num(r.drainEndPerSec)}` : "",
          walCell(r),
        ]),
      ),
    );
  }
  const lines = (kind: string, line: (r: Row) => string, keep: (r: Row) => boolean = () => true) => {
    const chosen = rows.filter((r) => r.kind === kind && keep(r));
    if (chosen.length > 0) parts.push(chosen.map(line).join("\n"));
  };
  lines(
    "backlog",
    (r) =>
      `backlog (${r.server}): pop+ack ${num(r.deepPerSec)}/s with ${num(r.deepWaiting)} waiting, ` +
      `${num(r.shallowPerSec)}/s with ${num(r.shallowWaiting)} waiting (windows of ${num(r.windowTasks)}): ${num(r.deepVsShallow, 2)}×`,
  );
  lines(
    "lifecycle",
    (r) =>
      `${r.preset} (${r.server}): ${num(r.payloadMBps, 1)} MB/s of payload pushed+popped+acked, ` +
      `${num(r.pushPayloadMBps, 1)} MB/s push only; disk (dd 64k, fdatasync): ${num(r.ddMBps, 1)} MB/s`,
    (r) => r.ddMBps !== undefined,
  );
  const lat = rows.filter((r) => r.kind === "latency");
  if (lat.length > 0) {
    const pair = (r: Row, a: string, b: string) => `${num(r[a], 2)} / ${num(r[b], 2)}`;
    parts.push(
      table(
        ["latency", "load tasks/s", "probes", "cycle p50 / p99 / max ms", "xadd p50/p99", "read p50/p99", "ack p50/p99", "WAL max / final MiB"],
        lat.map((r) => [
          String(r.server), num(r.loadTasksPerSec), num(r.probeCycles),
          `${num(r.cycleP50Ms, 2)} / ${num(r.cycleP99Ms, 2)} / ${num(r.cycleMaxMs, 2)}`,
          pair(r, "xaddP50Ms", "xaddP99Ms"), pair(r, "readP50Ms", "readP99Ms"), pair(r, "ackP50Ms", "ackP99Ms"), walCell(r),
        ]),
      ),
    );
  }
  const rat = rows.filter((r) => r.kind === "ratio");
  if (rat.length > 0) {
    parts.push(table(["preset", "ezra", "vs redis", "ratio"], rat.map((r) => [String(r.preset), String(r.ezra), String(r.redis), `${num(r.ratio, 2)}×`])));
  }
  const res = rows.filter((r) => r.kind === "memory" || r.kind === "idle-cpu");
  if (res.length > 0) {
    const servers = [...new Set(res.map((r) => String(r.server)))];
    const pick = (server: string, kind: string, key: string) => res.find((r) => r.server === server && r.kind === kind)?.[key];
    parts.push(
      table(
        ["server", "idle RSS MiB", "bytes/idle conn", "waiting tasks", "RSS MiB with them", "bytes/waiting task", "CPU s, 100 blocked, 10 s"],
        servers.map((s) => [
          s, num((pick(s, "memory", "idleRssBytes") as number) / 2 ** 20, 1), num(pick(s, "memory", "bytesPerConnection")),
          num(pick(s, "memory", "waitingTasks")), num((pick(s, "memory", "rssWithTasksBytes") as number) / 2 ** 20, 1),
          num(pick(s, "memory", "bytesPerWaitingTask")), num(pick(s, "idle-cpu", "cpuSecondsPer10s"), 3),
        ]),
      ),
    );
  }
  lines(
    "startup",
    (s) =>
      `start-up (${s.server}): ${num(s.startMs)} ms with ${num(s.tasks)} tasks ` +
      `(${num(s.waiting)} waiting, ${num(s.inFlight)} in flight, ${num(s.done)} done), ` +
      `${num(s.emptyStartMs)} ms empty; ezra.db ${num(s.dbBytesPerTask)} bytes/task (${num(s.payloadBytes)}-byte payload)`,
  );
  for (const e of rows.filter((r) => r.kind === "error")) parts.push(`ERROR ${e.preset ?? ""} ${e.server ?? ""}: ${e.message}`);
  return parts.join("\n\n");
}
