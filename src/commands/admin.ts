// Server-level commands: INFO (Redis-shaped sections plus ezra's), COMMAND introspection for
// clients that ask, and EZRA CONFIG for per-queue settings at run time.
import type { EntryFields, QueueSettings } from "../queue/engine.ts";
import { UserError } from "./errors.ts";
import { lower, seconds, text } from "./args.ts";
import { REDIS_COMPAT_VERSION } from "./connection.ts";
import type { CommandSpec, Context } from "./types.ts";

export function info(ctx: Context, args: Uint8Array[]): void {
  const { server, engine } = ctx;
  const wanted = new Set(args.slice(1).map(lower));
  const all = wanted.size === 0 || wanted.has("all") || wanted.has("everything") || wanted.has("default");
  const sections: [string, [string, string | number][]][] = [
    ["Server", [
      ["redis_version", REDIS_COMPAT_VERSION],
      ["ezra_version", server.version],
      ["redis_mode", "standalone"],
      ["os", `${process.platform} ${process.arch}`],
      ["process_id", process.pid],
      ["tcp_port", server.port],
      ["uptime_in_seconds", Math.floor((Date.now() - server.startedAt) / 1000)],
      ["executable", process.execPath],
    ]],
    ["Clients", [
      ["connected_clients", server.clientCount()],
      ["blocked_clients", engine.blockedCount],
      ["maxclients", server.limits.connectionsMax ?? 0],
    ]],
    ["Persistence", [
      ["loading", 0],
      ["ezra_data_file", server.dataFile],
      ["ezra_durability", server.durability],
    ]],
    ["Replication", [["role", "master"], ["connected_slaves", 0]]],
    ["Keyspace", engine.queueNames().length > 0 ? [["db0", `keys=${engine.queueNames().length},expires=0,avg_ttl=0`]] : []],
  ];
  let out = "";
  for (const [name, fields] of sections) {
    if (!all && !wanted.has(name.toLowerCase())) continue;
    if (out) out += "\r\n";
    out += `# ${name}\r\n`;
    for (const [k, v] of fields) out += `${k}:${v}\r\n`;
  }
  ctx.session.reply.verbatim(out);
}

// --- EZRA CONFIG: per-queue settings ------------------------------------------------------

const SETTINGS: Record<string, { field: keyof QueueSettings; unit: "s" | "count" | "choice" }> = {
  visibility_timeout: { field: "visibilityTimeoutMs", unit: "s" },
  max_attempts: { field: "maxAttempts", unit: "count" },
  retention: { field: "retentionMs", unit: "s" },
  entry_fields: { field: "entryFields", unit: "choice" },
};
const ENTRY_FIELDS = ["ezra", "plain"] as const;

function settingName(arg: Uint8Array): string {
  const name = lower(arg);
  if (!SETTINGS[name]) {
    throw new UserError("ERR", `unknown queue setting '${text(arg)}'; settings are ${Object.keys(SETTINGS).join(", ")}`);
  }
  return name;
}

function parseSetting(name: string, arg: Uint8Array): number | EntryFields {
  if (SETTINGS[name].unit === "choice") {
    const choice = lower(arg);
    const known = ENTRY_FIELDS.find((c) => c === choice);
    if (!known) throw new UserError("ERR", `${name} must be ${ENTRY_FIELDS.join(" or ")}, got '${text(arg)}'`);
    return known;
  }
  if (SETTINGS[name].unit === "s") {
    const ms = Math.round(seconds(arg, name) * 1000);
    if (name === "visibility_timeout" && ms < 1) throw new UserError("ERR", "visibility_timeout must be at least 0.001 seconds");
    return ms;
  }
  const s = text(arg);
  const n = /^\d{1,7}$/.test(s) ? Number(s) : 0;
  if (n < 1 || n > 1_000_000) throw new UserError("ERR", `${name} must be a whole number from 1 to 1000000, got '${s}'`);
  return n;
}

export function ezraConfigGet(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[3]);
  if (!ctx.engine.exists(key)) throw new UserError("ERR", "no such key");
  const own = ctx.engine.settings(key);
  const effective = ctx.engine.effective(key);
  const reply = ctx.session.reply;
  reply.map(Object.keys(SETTINGS).length * 2);
  for (const [name, { field, unit }] of Object.entries(SETTINGS)) {
    const value = effective[field];
    reply.bulk(name);
    reply.bulk(unit === "s" ? String((value as number) / 1000) : String(value));
    reply.bulk(`${name}_source`);
    reply.bulk(own[field] === null ? "default" : "queue");
  }
}

export function ezraConfigSet(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[3]);
  if ((args.length - 4) % 2 !== 0 || args.length < 6) {
    throw new UserError("ERR", "wrong number of arguments for 'ezra|config|set' command");
  }
  const changes: Record<string, number | EntryFields> = {};
  for (let i = 4; i < args.length; i += 2) {
    const name = settingName(args[i]);
    changes[SETTINGS[name].field] = parseSetting(name, args[i + 1]);
  }
  ctx.engine.configure(key, changes as Partial<QueueSettings>);
  ctx.session.reply.simple("OK");
}

export function ezraConfigReset(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[3]);
  const names = args.length > 4 ? args.slice(4).map(settingName) : Object.keys(SETTINGS);
  const changes: Partial<QueueSettings> = {};
  for (const name of names) changes[SETTINGS[name].field] = null;
  if (ctx.engine.exists(key)) ctx.engine.configure(key, changes);
  ctx.session.reply.simple("OK");
}

// --- COMMAND introspection -----------------------------------------------------------------

function writeCommandInfo(ctx: Context, spec: CommandSpec, parent?: string): void {
  const reply = ctx.session.reply;
  const name = parent ? `${parent}|${spec.name}` : spec.name;
  const keyed = spec.flags.includes("write") || spec.flags.includes("readonly");
  reply.array(10);
  reply.bulk(name);
  reply.integer(spec.arity);
  reply.set(spec.flags.length);
  for (const flag of spec.flags) reply.simple(flag);
  reply.integer(keyed ? 1 : 0);
  reply.integer(keyed ? 1 : 0);
  reply.integer(keyed ? 1 : 0);
  reply.set(0);
  reply.set(0);
  reply.array(0);
  const subs = spec.subcommands ?? [];
  reply.array(subs.length);
  for (const sub of subs) writeCommandInfo(ctx, sub, spec.name);
}

export function commandHandlers(table: () => Map<string, CommandSpec>) {
  return {
    all(ctx: Context): void {
      const specs = [...table().values()];
      ctx.session.reply.array(specs.length);
      for (const spec of specs) writeCommandInfo(ctx, spec);
    },
    count(ctx: Context): void {
      ctx.session.reply.integer(table().size);
    },
    list(ctx: Context): void {
      const names = [...table().keys()];
      ctx.session.reply.array(names.length);
      for (const name of names) ctx.session.reply.bulk(name);
    },
    info(ctx: Context, args: Uint8Array[]): void {
      const names = args.slice(2).map(lower);
      const specs = names.length ? names.map((n) => table().get(n)) : [...table().values()];
      ctx.session.reply.array(specs.length);
      for (const spec of specs) {
        if (spec) writeCommandInfo(ctx, spec);
        else ctx.session.reply.nilArray();
      }
    },
    docs(ctx: Context, args: Uint8Array[]): void {
      const names = args.slice(2).map(lower);
      const specs = (names.length ? names.map((n) => table().get(n)) : [...table().values()]).filter(
        (s): s is CommandSpec => s !== undefined,
      );
      const reply = ctx.session.reply;
      reply.map(specs.length);
      for (const spec of specs) {
        reply.bulk(spec.name);
        reply.map(3);
        reply.bulk("summary");
        reply.bulk(spec.summary);
        reply.bulk("since");
        reply.bulk("0.1.0");
        reply.bulk("group");
        reply.bulk(spec.name.startsWith("x") ? "stream" : "connection");
      }
    },
  };
}
