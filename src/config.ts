// Server settings from flags, then EZRA_* env vars, then defaults — one table, one place.
// A bad value is a ConfigError naming the flag; the CLI prints it on one line and exits 2.
import { DEFAULT_LIMITS, type Limits } from "./server/limits.ts";
import type { Durability } from "./store/store.ts";

export class ConfigError extends Error {}

export interface ServerConfig {
  dataDir: string;
  createDataDir: boolean;
  host: string;
  port: number;
  password: string | null;
  visibilityTimeoutMs: number;
  maxAttempts: number;
  retentionMs: number;
  durability: Durability;
  allowPublic: boolean;
  tlsCert: string | null;
  tlsKey: string | null;
  tlsCa: string | null;
  limits: Limits;
}

type Parse = (raw: string, flag: string) => unknown;

interface Option {
  flag: string;
  key: keyof ServerConfig | `limits.${keyof Limits}`;
  parse: Parse;
  default: unknown;
  description: string;
  boolean?: boolean;
  hint?: string;
}

const bad = (flag: string, raw: string, want: string) => new ConfigError(`--${flag}: invalid value '${raw}', expected ${want}`);

const int = (min: number, max: number): Parse => (raw, flag) => {
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw bad(flag, raw, `a whole number from ${min} to ${max}`);
  return n;
};

const secondsToMs = (min: number): Parse => (raw, flag) => {
  const n = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  const ms = Math.round(n * 1000);
  if (!(ms >= min) || ms > 10 * 365 * 86_400_000) throw bad(flag, raw, `a number of seconds${min > 0 ? " above 0" : ""}`);
  return ms;
};

const text: Parse = (raw, flag) => {
  if (raw === "") throw bad(flag, raw, "a non-empty value");
  return raw;
};

const bool: Parse = (raw, flag) => {
  if (["1", "true", "yes", "on", ""].includes(raw.toLowerCase())) return true;
  if (["0", "false", "no", "off"].includes(raw.toLowerCase())) return false;
  throw bad(flag, raw, "true or false");
};

const MiB = 1024 * 1024;

export const OPTIONS: Option[] = [
  { flag: "data-dir", key: "dataDir", parse: text, default: null, hint: "DIR", description: "Directory holding ezra.db (required)." },
  { flag: "create-data-dir", key: "createDataDir", parse: bool, default: false, boolean: true, description: "Create the data dir if it does not exist." },
  { flag: "host", key: "host", parse: text, default: "127.0.0.1", hint: "ADDR", description: "Address to listen on." },
  { flag: "port", key: "port", parse: int(0, 65535), default: 42002, hint: "N", description: "TCP port (0 picks a free one)." },
  { flag: "password", key: "password", parse: text, default: null, hint: "SECRET", description: "Require AUTH/HELLO AUTH with this password." },
  { flag: "visibility-timeout", key: "visibilityTimeoutMs", parse: secondsToMs(1), default: 30_000, hint: "SECONDS", description: "Default lease of a popped task." },
  { flag: "max-attempts", key: "maxAttempts", parse: int(1, 1_000_000), default: 3, hint: "N", description: "Default deliveries before a task is dead." },
  { flag: "retention-seconds", key: "retentionMs", parse: secondsToMs(0), default: 3_600_000, hint: "SECONDS", description: "Default time done tasks are kept." },
  {
    flag: "durability", key: "durability", default: "full", hint: "full|normal",
    parse: (raw, flag) => {
      if (raw !== "full" && raw !== "normal") throw bad(flag, raw, "full or normal");
      return raw;
    },
    description: "full: fsync every commit; normal: fsync at checkpoints (see README).",
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

const envName = (flag: string) => `EZRA_${flag.toUpperCase().replaceAll("-", "_")}`;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Resolves every option: flag value if given, else EZRA_* env var, else default. */
export function resolveConfig(flags: Record<string, string | boolean | undefined>, env: Record<string, string | undefined>): ServerConfig {
  const limits: Record<string, unknown> = { ...DEFAULT_LIMITS };
  const config: Record<string, unknown> = { limits };
  for (const option of OPTIONS) {
    const fromFlag = flags[option.flag];
    const raw = fromFlag !== undefined ? String(fromFlag) : env[envName(option.flag)];
    const value = raw !== undefined ? option.parse(raw, option.flag) : option.default;
    if (option.key.startsWith("limits.")) limits[option.key.slice(7)] = value;
    else config[option.key] = value;
  }
  const result = config as unknown as ServerConfig;
  if (!result.dataDir) throw new ConfigError("--data-dir: required (or set EZRA_DATA_DIR): the directory that holds ezra.db");
  if ((result.tlsCert === null) !== (result.tlsKey === null)) throw new ConfigError("--tls-cert and --tls-key: give both or neither");
  if (result.tlsCa !== null && result.tlsCert === null) throw new ConfigError("--tls-ca: needs --tls-cert and --tls-key");
  if (!LOOPBACK.test(result.host) && result.password === null && !result.allowPublic) {
    throw new ConfigError(
      `--host: ${result.host} is not a loopback address and no --password is set; set --password, or pass --allow-public to serve it open`,
    );
  }
  // Commands pause at the soft limit, well under the hard one: a slow reader is throttled, not cut off.
  result.limits.replyPauseBytes = Math.min(result.limits.replyPauseBytes, Math.floor(result.limits.replyBytesMax / 2));
  return result;
}

export function optionHelp(): string {
  return OPTIONS.map((o) => {
    const name = `--${o.flag}${o.hint ? ` ${o.hint}` : ""}`;
    const def = o.default === null || o.default === false ? "" : ` (default ${o.default})`;
    return `  ${name.padEnd(34)}${o.description}${def} [${envName(o.flag)}]`;
  }).join("\n");
}
