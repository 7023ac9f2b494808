// Routes one decoded request: finds the command (and subcommand), checks arity and auth once,
// runs the handler inside the current group-commit turn, and turns failures into error replies.
import { StorageError } from "../queue/engine.ts";
import { QueueError } from "../queue/errors.ts";
import { fromQueueError, UserError } from "./errors.ts";
import { lower, text } from "./args.ts";
import { TABLE } from "./table.ts";
import { enqueue, queues, refused } from "./transactions.ts";
import type { CommandSpec, Context } from "./types.ts";

const ERROR_ARG_PREVIEW_MAX = 128;

function unknownCommand(args: Uint8Array[]): UserError {
  let preview = "";
  for (const arg of args.slice(1)) {
    if (preview.length >= ERROR_ARG_PREVIEW_MAX) break;
    preview += `'${text(arg).slice(0, ERROR_ARG_PREVIEW_MAX)}' `;
  }
  return new UserError("ERR", `unknown command '${text(args[0]).slice(0, ERROR_ARG_PREVIEW_MAX)}', with args beginning with: ${preview}`);
}

function arityOk(spec: CommandSpec, argc: number): boolean {
  return spec.arity >= 0 ? argc === spec.arity : argc >= -spec.arity;
}

/** Finds the spec for a request and its path (`xgroup|create`), descending into subcommands; throws Redis's errors. */
export function resolve(args: Uint8Array[]): { spec: CommandSpec; path: string } {
  let spec = TABLE.get(lower(args[0]));
  if (!spec) throw unknownCommand(args);
  let path = spec.name;
  for (let depth = 1; spec.subcommands && (args.length > depth || spec.container); depth++) {
    if (args.length <= depth) throw new UserError("ERR", `wrong number of arguments for '${path}' command`);
    const sub: CommandSpec | undefined = spec.subcommands.find((s) => s.name === lower(args[depth]));
    if (!sub) {
      throw new UserError("ERR", `unknown subcommand '${text(args[depth]).slice(0, ERROR_ARG_PREVIEW_MAX)}'. Try ${path.replaceAll("|", " ").toUpperCase()} HELP.`);
    }
    spec = sub;
    path = `${path}|${sub.name}`;
  }
  if (!arityOk(spec, args.length)) throw new UserError("ERR", `wrong number of arguments for '${path}' command`);
  return { spec, path };
}

/**
 * Runs one request and writes its reply (an error reply on failure). Returns the storage failure
 * when the command hit one (EXEC then fails its whole turn), else null.
 */
export function dispatch(ctx: Context, args: Uint8Array[]): Error | null {
  const reply = ctx.session.reply;
  const turn = ctx.engine.turn;
  const mark = reply.mark();
  let path = "";
  let spec: CommandSpec;
  try {
    const resolved = resolve(args);
    spec = resolved.spec;
    path = resolved.path;
    if (!ctx.session.authenticated && !spec.flags.includes("noauth")) {
      throw new UserError("NOAUTH", "Authentication required.");
    }
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    reply.truncate(mark);
    reply.error(refused(ctx, args, err).reply);
    return null;
  }
  if (queues(ctx.session, path.split("|")[0])) {
    try {
      enqueue(ctx, args);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      reply.error(err.reply);
    }
    return null;
  }
  try {
    turn.enter();
    if (turn.failure) throw storageError(turn.failure);
    spec.run(ctx, args);
    return null;
  } catch (err) {
    reply.truncate(mark);
    if (err instanceof UserError) {
      reply.error(err.reply);
      return null;
    }
    if (err instanceof QueueError) {
      reply.error(fromQueueError(err, path).reply);
      return null;
    }
    const failure = ctx.engine.driver.failureOf(err);
    if (!failure) throw err;
    turn.checkAfterError(failure);
    reply.error(storageError(failure).reply);
    return failure;
  }
}

export function storageError(err: Error): UserError {
  // After a failed fdatasync the turn is in the file, but the disk did not confirm it.
  if (err instanceof StorageError && err.code === "NOT_DURABLE") {
    return new UserError("ERR", `ezra storage error, written but not confirmed on disk (a power cut may undo it): ${err.message}`);
  }
  return new UserError("ERR", `ezra storage error, nothing was stored: ${err.message}`);
}
