// Server settings from flags, then EZRA_* env vars, then defaults — one table, one place.
// A bad value is a ConfigError naming where it came from (the flag, or the env var); the CLI
// prints it on one line and exits 2. Durations read everywhere the same way (parseDuration).
import { homedir } from "node:os";
import { join, win32 } from "node:path";
import { DEFAULT_LIMITS, type Limits } from "./server/limits.ts";
import type { Durability } from "./store/driver.ts";

export class ConfigError extends Error {}

export interface ServerConfig {
  dataDir: string;
  /** true when neither --data-dir nor EZRA_DATA_DIR was given: the per-user default, created if missing. */
  dataDirIsDefault: boolean;
  createDataDir: boolean;
  host: string;
  port: number;
  password: string | null;
  visibilityTimeoutMs: number;
  maxAttempts: number;
  retentionMs: number;
  durability: Durability;
  claimWriteDelayMs: number;
  allowPublic: boolean;
  tlsCert: string | null;
  tlsKey: string | null;
  tlsCa: string | null;
  limits: Limits;
  /** By flag name, how a setting was given ("--port" or "EZRA_PORT"), for messages; absent: default. */
  from: Record<string, string>;
}

/** Reads one raw value; `name` is what the user typed it as (`--port` or `EZRA_PORT`), for errors. */
type Parse = (raw: string, name: string) => unknown;

interface Option {
  flag: string;
  key: keyof ServerConfig | `limits.${keyof Limits}`;
  parse: Parse;
  default: unknown;
  description: string;
  boolean?: boolean;
  hint?: string;
  /** How the default reads in help, when not the plain value (durations: "30s"). */
  shown?: string;
}

const bad = (name: string, raw: string, want: string) => new ConfigError(`${name}: invalid value '${raw}', expected ${want}`);

const int = (min: number, max: number): Parse => (raw, name) => {
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw bad(name, raw, `a whole number from ${min} to ${max}`);
  return n;
};

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_MAX_MS = 3650 * UNIT_MS.d;
export const DURATION_SYNTAX = "a bare number is seconds; or give a unit: 500ms, 30s, 5m, 2h, 7d";

/**
 * A duration in ms from "30", "1.5", "500ms", "30s", "5m", "2h" or "7d": a bare number is seconds.
 * Null when it is not one, or it rounds below `minMs`, or it is over 10 years.
 */
export function parseDuration(raw: string, minMs = 0): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!m) return null;
  const ms = Math.round(Number(m[1]) * UNIT_MS[(m[2] ?? "s") as keyof typeof UNIT_MS]);
  return ms >= minMs && ms <= DURATION_MAX_MS ? ms : null;
}

/** The shortest exact spelling of a duration: 30000 -> "30s", 3600000 -> "1h", 1500 -> "1500ms". */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    if (ms > 0 && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

const duration = (minMs: number): Parse => (raw, name) => {
  const ms = parseDuration(raw, minMs);
  if (ms === null) throw bad(name, raw, `a duration${minMs > 0 ? " above 0" : ""} up to 10 years (${DURATION_SYNTAX})`);
  return ms;
};

const text: Parse = (raw, name) => {
  if (raw === "") throw bad(name, raw, "a non-empty value");
  return raw;
};

const bool: Parse = (raw, name) => {
  if (["1", "true", "yes", "on", ""].includes(raw.toLowerCase())) return true;
  if (["0", "false", "no", "off"].includes(raw.toLowerCase())) return false;
  throw bad(name, raw, "true or false");
};

const MiB = 1024 * 1024;

export const OPTIONS: Option[] = [
  { flag: "data-dir", key: "dataDir", parse: text, default: null, hint: "DIR", description: "Directory holding ezra.db." },
  { flag: "create-data-dir", key: "createDataDir", parse: bool, default: false, boolean: true, description: "Create the data dir if it does not exist." },
  { flag: "host", key: "host", parse: text, default: "127.0.0.1", hint: "ADDR", description: "Address to listen on." },
  { flag: "port", key: "port", parse: int(0, 65535), default: 42002, hint: "N", description: "TCP port (0 picks a free one)." },
  { flag: "password", key: "password", parse: text, default: null, hint: "SECRET", description: "Require AUTH/HELLO AUTH with this password." },
  {
    flag: "visibility-timeout", key: "visibilityTimeoutMs", parse: duration(1), default: 30_000, shown: formatDuration(30_000),
    hint: "DURATION", description: "Default lease of a popped task.",
  },
  { flag: "max-attempts", key: "maxAttempts", parse: int(1, 1_000_000), default: 3, hint: "N", description: "Default deliveries before a task is dead." },
  {
    flag: "retention-seconds", key: "retentionMs", parse: duration(0), default: 3_600_000, shown: formatDuration(3_600_000),
    hint: "DURATION", description: "Default time done tasks are kept.",
  },
  {
    flag: "claim-write-delay", key: "claimWriteDelayMs", parse: duration(0), default: 1_000, shown: formatDuration(1_000),
    hint: "DURATION", description: "How long a claim may live in memory only before it is written (0: at once).",
  },
  {
    flag: "durability", key: "durability", default: "full", hint: "full|normal",
    parse: (raw, name) => {
      if (raw !== "full" && raw !== "normal") throw bad(name, raw, "full or normal");
      return raw;
    },
    description: "full: fsync every commit; normal: fsync at checkpoints.",
  },
  { flag: "allow-public", key: "allowPublic", parse: bool, default: false, boolean: true, description: "Allow a non-loopback --host without --password." },
  { flag: "tls-cert", key: "tlsCert", parse: text, default: null, hint: "FILE", description: "PEM certificate: serve TLS." },
  { flag: "tls-key", key: "tlsKey", parse: text, default: null, hint: "FILE", description: "PEM private key for --tls-cert." },
  { flag: "tls-ca", key: "tlsCa", parse: text, default: null, hint: "FILE", description: "PEM CA: require client certificates signed by it." },
  { flag: "connections-max", key: "limits.connectionsMax", parse: int(1, 1_000_000), default: DEFAULT_LIMITS.connectionsMax, hint: "N", description: "Open connections at most." },
  { flag: "blocked-clients-max", key: "limits.blockedClientsMax", parse: int(1, 1_000_000), default: DEFAULT_LIMITS.blockedClientsMax, hint: "N", description: "Clients blocked in XREADGROUP at most." },
  { flag: "bulk-bytes-max", key: "limits.bulkBytesMax", parse: int(1, 512 * MiB), default: DEFAULT_LIMITS.bulkBytesMax, hint: "BYTES", description: "Bytes in one argument (payload field) at most." },
  { flag: "args-max", key: "limits.argsMax", parse: int(1, 16 * MiB), default: DEFAULT_LIMITS.argsMax, hint: "N", description: "Arguments in one command at most." },
  { flag: "input-bytes-max", key: "limits.inputBytesMax", parse: int(1024, 4096 * MiB), default: DEFAULT_LIMITS.inputBytesMax, hint: "BYTES", description: "Unprocessed input per connection before it is closed." },
  { flag: "reply-bytes-max", key: "limits.replyBytesMax", parse: int(1024, 4096 * MiB), default: DEFAULT_LIMITS.replyBytesMax, hint: "BYTES", description: "Unread reply bytes per connection before it is closed." },
];

export const envName = (flag: string) => `EZRA_${flag.toUpperCase().replaceAll("-", "_")}`;

/** How a setting reads in a message: as the user gave it (flag or env var), else as its flag. */
export const nameOf = (config: Pick<ServerConfig, "from">, flag: string) => config.from[flag] ?? `--${flag}`;

/**
 * The data dir when none is given: $XDG_DATA_HOME/ezra or ~/.local/share/ezra (Linux, macOS,
 * the BSDs), %LOCALAPPDATA%\ezra on Windows. Throws when there is no home to put it in.
 */
export function defaultDataDir(env: Record<string, string | undefined>, platform: string = process.platform): string {
  if (platform === "win32") {
    const local = env.LOCALAPPDATA || (env.USERPROFILE ? win32.join(env.USERPROFILE, "AppData", "Local") : "");
    if (!local) throw new ConfigError("--data-dir: not given, and neither LOCALAPPDATA nor USERPROFILE is set to put the default in");
    return win32.join(local, "ezra");
  }
  // The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
  if (env.XDG_DATA_HOME?.startsWith("/")) return join(env.XDG_DATA_HOME, "ezra");
  let home = env.HOME;
  if (!home) {
    try {
      home = homedir();
    } catch {
      home = "";
    }
  }
  if (!home) throw new ConfigError("--data-dir: not given, and there is no home directory (HOME) to put the default in");
  return join(home, ".local", "share", "ezra");
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
export const isLoopback = (host: string) => LOOPBACK.test(host);

/** Resolves every option: flag value if given, else EZRA_* env var, else default. */
export function resolveConfig(flags: Record<string, string | boolean | undefined>, env: Record<string, string | undefined>): ServerConfig {
  const limits: Record<string, unknown> = { ...DEFAULT_LIMITS };
  const from: Record<string, string> = {};
  const config: Record<string, unknown> = { limits, from };
  for (const option of OPTIONS) {
    const fromFlag = flags[option.flag];
    const fromEnv = env[envName(option.flag)];
    let value = option.default;
    if (fromFlag !== undefined) {
      from[option.flag] = `--${option.flag}`;
      value = typeof fromFlag === "boolean" ? fromFlag : option.parse(fromFlag, from[option.flag]);
    } else if (fromEnv !== undefined) {
      from[option.flag] = envName(option.flag);
      value = option.parse(fromEnv, from[option.flag]);
    }
    if (option.key.startsWith("limits.")) limits[option.key.slice(7)] = value;
    else config[option.key] = value;
  }
  const result = config as unknown as ServerConfig;
  result.dataDirIsDefault = !result.dataDir;
  if (result.dataDirIsDefault) result.dataDir = defaultDataDir(env);
  if ((result.tlsCert === null) !== (result.tlsKey === null)) throw new ConfigError("--tls-cert and --tls-key: give both or neither");
  if (result.tlsCa !== null && result.tlsCert === null) throw new ConfigError(`${nameOf(result, "tls-ca")}: needs --tls-cert and --tls-key`);
  if (!LOOPBACK.test(result.host) && result.password === null && !result.allowPublic) {
    throw new ConfigError(
      `${nameOf(result, "host")}: ${result.host} is not a loopback address and no --password is set; set --password, or pass --allow-public to serve it open`,
    );
  }
  // Commands pause at the soft limit, well under the hard one: a slow reader is throttled, not cut off.
  result.limits.replyPauseBytes = Math.min(result.limits.replyPauseBytes, Math.floor(result.limits.replyBytesMax / 2));
  return result;
}

/** One help row per option: flag and hint, what it does, its default in the flag's own unit, its env var. */
export function optionRows(env: Record<string, string | undefined>): { flag: string; text: string }[] {
  return OPTIONS.map((o) => {
    let shown = o.shown ?? (o.default === null || o.default === false ? "" : String(o.default));
    if (o.hint === "BYTES" && typeof o.default === "number" && o.default % MiB === 0) shown += ` (${o.default / MiB} MiB)`;
    if (o.flag === "data-dir") {
      try {
        shown = defaultDataDir(env);
      } catch {
        shown = "none: give one";
      }
    }
    return { flag: `--${o.flag}${o.hint ? ` ${o.hint}` : ""}`, text: `${o.description}${shown ? ` Default ${shown}.` : ""} [${envName(o.flag)}]` };
  });
}
