// Server commands that tools and client libraries send on connect or in health checks: TIME,
// CONFIG GET/SET (Redis-named settings with ezra's true values) and WAIT (no replicas).
import { dirname } from "node:path";
import { UserError } from "./errors.ts";
import { integer, lower, text } from "./args.ts";
import { globMatch } from "./glob.ts";
import { help } from "./replies.ts";
import type { Context, ServerFacts } from "./types.ts";

/** TIME: [unix seconds, microseconds] as bulk strings. */
export function time(ctx: Context): void {
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const reply = ctx.session.reply;
  reply.array(2);
  reply.bulk(String(Math.floor(micros / 1e6)));
  reply.bulk(String(micros % 1e6));
}

/**
 * The settings CONFIG GET answers, under Redis's names where ezra has the same thing. Values
 * are true of ezra: every write is in the SQLite WAL (an append-only log) before its reply,
 * fsynced per commit with --durability full, at checkpoints with normal; there are no
 * snapshots, no eviction, no idle timeout and one database. The password is never shown.
 */
function settings(server: ServerFacts): [string, string][] {
  const limit = (name: string) => String(server.limits[name] ?? 0);
  return [
    ["maxclients", limit("connectionsMax")],
    ["timeout", "0"],
    ["appendonly", "yes"],
    ["appendfsync", server.durability === "full" ? "always" : "no"],
    ["save", ""],
    ["databases", "1"],
    ["port", String(server.port)],
    ["bind", server.host],
    ["dir", dirname(server.dataFile)],
    ["maxmemory", "0"],
    ["maxmemory-policy", "noeviction"],
    ["proto-max-bulk-len", limit("bulkBytesMax")],
    ["client-query-buffer-limit", limit("inputBytesMax")],
    ["cluster-enabled", "no"],
  ];
}

/** CONFIG GET pattern [pattern ...]: matching settings, each once; none is an empty reply, as in Redis. */
export function configGet(ctx: Context, args: Uint8Array[]): void {
  const patterns = args.slice(2).map(lower);
  const found = settings(ctx.server).filter(([name]) => patterns.some((p) => globMatch(p, name)));
  const reply = ctx.session.reply;
  if (reply.protocol === 3) reply.map(found.length);
  else reply.array(found.length * 2);
  for (const [name, value] of found) {
    reply.bulk(name);
    reply.bulk(value);
  }
}

export function configSet(ctx: Context, args: Uint8Array[]): void {
  const name = text(args[2]);
  throw new UserError(
    "ERR",
    `CONFIG SET is not supported ('${name}'): ezra's settings are fixed at start, by flags or EZRA_* environment variables (docs/configuration.md); per-queue settings change with EZRA CONFIG SET <queue> <name> <value>`,
  );
}

export const configHelp = help([
  "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "GET <pattern> [<pattern> ...]",
  "    Return parameters matching the glob-like <pattern> and their values.",
  "SET <directive> <value> [<directive> <value> ...]",
  "    Not supported: ezra's settings are set at start (flags, EZRA_* variables).",
  "HELP",
  "    Print this help.",
]);

/**
 * WAIT numreplicas timeout: ezra has no replicas, so 0 at once. Redis would wait out the timeout
 * (forever with 0) when asked for more replicas than acknowledge; nothing could ever arrive here.
 * Durability is ezra's own: a write's reply is sent only after its COMMIT.
 */
export function wait(ctx: Context, args: Uint8Array[]): void {
  integer(args[1]);
  const t = text(args[2]);
  if (!/^-?\d{1,16}$/.test(t)) throw new UserError("ERR", "timeout is not an integer or out of range");
  if (Number(t) < 0) throw new UserError("ERR", "timeout is negative");
  ctx.session.reply.integer(0);
}
