// XGROUP and XINFO: consumer groups (recorded, sharing one queue's tasks) and Redis-shaped
// stream info with ezra's per-state counts added.
import type { Engine } from "../queue/engine.ts";
import { UserError } from "./errors.ts";
import { formatId } from "../queue/ids.ts";
import { integer, invalidId, lower, text } from "./args.ts";
import type { ReplyWriter } from "../resp/encoder.ts";
import { writeEntry } from "./replies.ts";
import type { Context } from "./types.ts";

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
    else if (opt === "entriesread" && i + 1 < args.length) {
      // Validated as Redis does, then ignored: groups share the queue, there is no lag to seed.
      if (integer(args[++i]) < -1) throw new UserError("ERR", "value for ENTRIESREAD must be positive or -1");
    }
    else throw new UserError("ERR", `unknown subcommand or wrong number of arguments for '${text(args[1])}'. Try XGROUP HELP.`);
  }
  if (!ctx.engine.createGroup(key, group, mkStream)) {
    throw new UserError("BUSYGROUP", "Consumer Group name already exists");
  }
  ctx.session.reply.simple("OK");
}

type StreamInfo = NonNullable<ReturnType<Engine["streamInfo"]>>;

/** The fields XINFO STREAM and XINFO STREAM FULL both open with, in Redis's order. */
export function writeStreamHead(reply: ReplyWriter, info: StreamInfo): void {
  const length = info.counts.available + info.counts.in_flight + info.counts.done;
  reply.bulk("length");
  reply.integer(length);
  // ezra has no radix tree: one "key" and "node" per entry keeps the numbers meaningful.
  reply.bulk("radix-tree-keys");
  reply.integer(length);
  reply.bulk("radix-tree-nodes");
  reply.integer(length);
  reply.bulk("last-generated-id");
  reply.bulk(formatId(info.lastId));
  reply.bulk("max-deleted-entry-id");
  reply.bulk(formatId(info.maxDeletedId));
  reply.bulk("entries-added");
  reply.integer(info.entriesAdded);
  reply.bulk("recorded-first-entry-id");
  reply.bulk(info.first ? formatId(info.first.id) : "0-0");
}

export function xinfoStream(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[2]);
  const info = ctx.engine.streamInfo(key);
  if (!info) throw new UserError("ERR", "no such key");
  const reply = ctx.session.reply;
  const { counts, settings } = info;
  reply.map(16);
  writeStreamHead(reply, info);
  reply.bulk("groups");
  reply.integer(info.groups);
  reply.bulk("first-entry");
  if (info.first) writeEntry(reply, info.first);
  else reply.nil();
  reply.bulk("last-entry");
  if (info.last) writeEntry(reply, info.last);
  else reply.nil();
  // ezra's own fields, after Redis's.
  reply.bulk("ezra-available");
  reply.integer(counts.available);
  reply.bulk("ezra-in-flight");
  reply.integer(counts.in_flight);
  reply.bulk("ezra-done");
  reply.integer(counts.done);
  reply.bulk("ezra-dead");
  reply.integer(counts.dead);
  reply.bulk("ezra-visibility-timeout-ms");
  reply.integer(settings.visibilityTimeoutMs);
  reply.bulk("ezra-max-attempts");
  reply.integer(settings.maxAttempts);
}

export function help(lines: string[]) {
  return (ctx: Context): void => {
    const reply = ctx.session.reply;
    reply.array(lines.length);
    for (const line of lines) reply.simple(line);
  };
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

export const xinfoHelp = help([
  "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CONSUMERS <key> <groupname>",
  "    Show consumers of <groupname>.",
  "GROUPS <key>",
  "    Show the stream consumer groups.",
  "STREAM <key> [FULL [COUNT <count>]",
  "    Show information about the stream, with ezra's counts per task state.",
  "HELP",
  "    Print this help.",
]);
