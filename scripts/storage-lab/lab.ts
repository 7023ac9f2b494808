// Shared helpers for the storage lab scripts: flags, temp dirs, per-thread CPU, medians, tables.
// Nothing here imports from src/: the lab measures storage designs, not ezra's code.
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** `--name value` from argv, else the fallback. */
export function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = process.argv[i + 1];
  if (value === undefined || value.startsWith("--")) throw new Error(`--${name}: value missing`);
  return value;
}

export function numberFlag(name: string, fallback: number): number {
  const value = Number(flag(name, String(fallback)));
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: expected a positive number`);
  return value;
}

export function listFlag(name: string, fallback: string): string[] {
  return flag(name, fallback).split(",").filter((s) => s.length > 0);
}

/** A fresh directory for one script's files, under --dir (default: TMPDIR or /tmp). */
export function labDir(prefix: string): string {
  return mkdtempSync(join(flag("dir", tmpdir()), `storage-lab-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

const TICK_MS = 10; // CLK_TCK is 100 on Linux: utime and stime count 10 ms ticks

/** CPU time of the calling thread (user + system), in ms, from /proc/thread-self/stat. */
export function threadCpuMs(): number {
  const stat = readFileSync("/proc/thread-self/stat", "utf8");
  // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** CPU time of the whole process (all threads), in ms. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Resident set size of this process, in bytes. */
export function rssBytes(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : 0;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** "median (min-max)" with the given decimals; what every table in the lab prints. */
export function spread(values: number[], decimals = 0): string {
  if (values.length === 0) return "-";
  const f = (v: number) => v.toLocaleString("en-US", { maximumFractionDigits: decimals, minimumFractionDigits: decimals });
  if (values.length === 1) return f(values[0]);
  return `${f(median(values))} (${f(Math.min(...values))}-${f(Math.max(...values))})`;
}

/** A markdown table, ready to paste into docs/storage.md. */
export function markdown(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Stops a script from starting new runs past its time budget (each script stays under 2 min). */
export class Budget {
  private readonly end: number;
  constructor(seconds: number) {
    this.end = performance.now() + seconds * 1000;
  }
  get over(): boolean {
    return performance.now() > this.end;
  }
}

/** The machine line printed before every result: results are only comparable on one machine. */
export function machineLine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "?";
  const cores = navigator.hardwareConcurrency;
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  return `machine: ${cpu}, ${cores} cores, bun ${Bun.version}, load average ${load} (shared machine)`;
}

/** Payload bytes of the given size (letters x, as the bench sends). */
export function payloadOf(bytes: number): Uint8Array {
  return new Uint8Array(bytes).fill(0x78);
}
