// XGROUP: consumer groups and consumers (CREATE, DESTROY, CREATECONSUMER, DELCONSUMER, SETID,
// HELP). ezra's groups are records that share one queue's tasks; parsing and errors follow Redis 7.
import { createConsumer, deleteConsumer } from "../queue/groups.ts";
import { parseId } from "../queue/ids.ts";
import { integer, invalidId, lower, text } from "./args.ts";
import { UserError, XGROUP_NO_KEY } from "./errors.ts";
import { help } from "./replies.ts";
import type { Context } from "./types.ts";

export const XGROUP_SETID_REFUSED =
  "XGROUP SETID is not supported: ezra's consumer groups share the queue's tasks and have no position of their own to set (no task is skipped or delivered again)";

/** Redis's ERR no such key (or `message`) when `key` is not a queue. */
export function requireKey(ctx: Context, key: string, message = "no such key"): void {
  if (!ctx.engine.exists(key)) throw new UserError("ERR", message);
}

/** NOGROUP as XGROUP and XINFO CONSUMERS word it (XPENDING & co word it otherwise: pending.ts). */
export function requireGroup(ctx: Context, key: string, group: string): void {
  if (!ctx.engine.hasGroup(key, group)) throw new UserError("NOGROUP", `No such consumer group '${group}' for key name '${key}'`);
}

const badArguments = (args: Uint8Array[]) =>
  new UserError("ERR", `unknown subcommand or wrong number of arguments for '${text(args[1])}'. Try XGROUP HELP.`);

/** ENTRIESREAD's value: validated as Redis does, then ignored (groups share the queue, there is no lag to seed). */
function checkEntriesRead(arg: Uint8Array): void {
  if (integer(arg) < -1) throw new UserError("ERR", "value for ENTRIESREAD must be positive or -1");
}

/** XGROUP CREATE key group <id|$> [MKSTREAM] [ENTRIESREAD n] */
export function xgroupCreate(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[2]);
  const group = text(args[3]);
  const id = text(args[4]);
  // The id is accepted and recorded nowhere: groups share every task of the queue.
  if (id !== "$" && !/^\d+(-\d+)?$/.test(id)) throw invalidId();
  let mkStream = false;
  for (let i = 5; i < args.length; i++) {
    const opt = lower(args[i]);
    if (opt === "mkstream") mkStream = true;
    else if (opt === "entriesread" && i + 1 < args.length) checkEntriesRead(args[++i]);
    else throw badArguments(args);
  }
  if (!ctx.engine.createGroup(key, group, mkStream)) {
    throw new UserError("BUSYGROUP", "Consumer Group name already exists");
  }
  ctx.session.reply.simple("OK");
}

export function xgroupDestroy(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[2]);
  requireKey(ctx, key, XGROUP_NO_KEY);
  ctx.session.reply.integer(ctx.engine.destroyGroup(key, text(args[3])) ? 1 : 0);
}

export function xgroupCreateConsumer(ctx: Context, args: Uint8Array[]): void {
  const [key, group] = keyAndGroup(ctx, args);
  ctx.session.reply.integer(createConsumer(ctx.engine, key, group, text(args[4])) ? 1 : 0);
}

export function xgroupDelConsumer(ctx: Context, args: Uint8Array[]): void {
  const [key, group] = keyAndGroup(ctx, args);
  ctx.session.reply.integer(deleteConsumer(ctx.engine, key, group, text(args[4])));
}

/**
 * XGROUP SETID key group <id|$> [ENTRIESREAD n]: validated as Redis does, then refused. A group
 * has no position of its own (groups share the queue's tasks): moving it back would have to
 * redeliver acked work, moving it forward would drop waiting tasks, for every group at once.
 */
export function xgroupSetId(ctx: Context, args: Uint8Array[]): void {
  // Redis checks the options before the key and the group, and the id after them.
  for (let i = 5; i < args.length; i++) {
    if (lower(args[i]) !== "entriesread" || i + 1 >= args.length) throw badArguments(args);
    checkEntriesRead(args[++i]);
  }
  keyAndGroup(ctx, args);
  const id = text(args[4]);
  if (id !== "$" && !parseId(id)) throw invalidId();
  throw new UserError("ERR", XGROUP_SETID_REFUSED);
}

function keyAndGroup(ctx: Context, args: Uint8Array[]): [string, string] {
  const key = text(args[2]);
  const group = text(args[3]);
  requireKey(ctx, key, XGROUP_NO_KEY);
  requireGroup(ctx, key, group);
  return [key, group];
}

export const xgroupHelp = help([
  "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CREATE <key> <groupname> <id|$> [option]",
  "    Create a new consumer group. ezra groups share all tasks of the queue (a work queue).",
  "    Options are MKSTREAM (create the queue if missing) and ENTRIESREAD (accepted, ignored).",
  "CREATECONSUMER <key> <groupname> <consumer>",
  "    Create a new consumer in the specified group.",
  "DELCONSUMER <key> <groupname> <consumer>",
  "    Remove the consumer. Its in-flight tasks become available again (no task is dropped).",
  "DESTROY <key> <groupname>",
  "    Remove the group and its consumers. Its in-flight tasks stay in flight until acked or their lease ends.",
  "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
  "    Refused (after Redis's checks): ezra groups share all tasks, so there is no group position to set.",
  "HELP",
  "    Print this help.",
]);
