// Connection commands answered the way Redis 7 answers them, so client handshakes succeed:
// HELLO, AUTH, PING, ECHO, QUIT, RESET, SELECT, CLIENT ...
import { createHash, timingSafeEqual } from "node:crypto";
import { UserError } from "./errors.ts";
import { integer, lower, text } from "./args.ts";
import type { Context, Session } from "./types.ts";

/** The Redis version ezra reports, so clients enable their Redis 7 code paths. */
export const REDIS_COMPAT_VERSION = "7.2.0";

const wrongPass = () => new UserError("WRONGPASS", "invalid username-password pair or user is disabled.");

/** Compares SHA-256 digests in constant time: neither content nor length leaks through timing. */
export function passwordMatches(expected: string, given: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(expected), digest(given));
}

/** `user` is null for the one-argument `AUTH <password>`. */
function authenticate(ctx: Context, user: string | null, pass: string): void {
  const password = ctx.server.password;
  if (password === null) {
    // As Redis's `nopass` default user: the bare password form is refused as a likely
    // misconfiguration, while `default` with any password is accepted (client handshakes send it).
    if (user === null) {
      throw new UserError(
        "ERR",
        "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
      );
    }
    if (user !== "default") throw wrongPass();
    ctx.session.authenticated = true;
    return;
  }
  if ((user ?? "default") !== "default" || !passwordMatches(password, pass)) throw wrongPass();
  ctx.session.authenticated = true;
}

export function auth(ctx: Context, args: Uint8Array[]): void {
  if (args.length > 3) throw new UserError("ERR", "syntax error");
  const user = args.length === 3 ? text(args[1]) : null;
  authenticate(ctx, user, text(args[args.length - 1]));
  ctx.session.reply.simple("OK");
}

export function hello(ctx: Context, args: Uint8Array[]): void {
  const { session } = ctx;
  let protocol = session.reply.protocol;
  let i = 1;
  if (args.length > 1) {
    const v = text(args[1]);
    const n = /^\d{1,9}$/.test(v) ? Number(v) : NaN;
    if (Number.isNaN(n)) throw new UserError("ERR", "Protocol version is not an integer or out of range");
    if (n !== 2 && n !== 3) throw new UserError("NOPROTO", "unsupported protocol version");
    protocol = n;
    i = 2;
  }
  let name: string | null | undefined;
  for (; i < args.length; i++) {
    const opt = lower(args[i]);
    const more = args.length - i - 1;
    if (opt === "auth" && more >= 2) {
      authenticate(ctx, text(args[i + 1]), text(args[i + 2]));
      i += 2;
    } else if (opt === "setname" && more >= 1) {
      name = checkClientName(text(args[++i]));
    } else throw new UserError("ERR", `Syntax error in HELLO option '${text(args[i])}'`);
  }
  if (ctx.server.password !== null && !session.authenticated) {
    throw new UserError("NOAUTH", "HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
  }
  if (name !== undefined) session.name = name;
  session.reply.protocol = protocol as 2 | 3;
  const reply = session.reply;
  reply.map(7);
  reply.bulk("server");
  reply.bulk("redis");
  reply.bulk("version");
  reply.bulk(REDIS_COMPAT_VERSION);
  reply.bulk("proto");
  reply.integer(protocol);
  reply.bulk("id");
  reply.integer(session.id);
  reply.bulk("mode");
  reply.bulk("standalone");
  reply.bulk("role");
  reply.bulk("master");
  reply.bulk("modules");
  reply.array(0);
}

export function ping(ctx: Context, args: Uint8Array[]): void {
  if (args.length > 2) throw new UserError("ERR", "wrong number of arguments for 'ping' command");
  if (args.length === 2) ctx.session.reply.bulk(args[1]);
  else ctx.session.reply.simple("PONG");
}

export function echo(ctx: Context, args: Uint8Array[]): void {
  ctx.session.reply.bulk(args[1]);
}

export function quit(ctx: Context): void {
  ctx.session.reply.simple("OK");
  ctx.session.closeAfterReply();
}

export function reset(ctx: Context): void {
  const { session } = ctx;
  session.reply.protocol = 2;
  session.name = null;
  session.authenticated = ctx.server.password === null;
  session.reply.simple("RESET");
}

export function select(ctx: Context, args: Uint8Array[]): void {
  const db = integer(args[1]);
  if (db !== 0) throw new UserError("ERR", "DB index is out of range");
  ctx.session.reply.simple("OK");
}

function checkClientName(name: string): string | null {
  if (/[\s]/.test(name) || /[^\x21-\x7e]/.test(name)) {
    throw new UserError("ERR", "Client names cannot contain spaces, newlines or special characters.");
  }
  return name === "" ? null : name;
}

export function clientSetName(ctx: Context, args: Uint8Array[]): void {
  ctx.session.name = checkClientName(text(args[2]));
  ctx.session.reply.simple("OK");
}

export function clientGetName(ctx: Context): void {
  const name = ctx.session.name;
  if (name === null) ctx.session.reply.nil();
  else ctx.session.reply.bulk(name);
}

export function clientId(ctx: Context): void {
  ctx.session.reply.integer(ctx.session.id);
}

export function clientSetInfo(ctx: Context, args: Uint8Array[]): void {
  const attr = lower(args[2]);
  const value = text(args[3]);
  if (attr === "lib-name") ctx.session.libName = value;
  else if (attr === "lib-ver") ctx.session.libVersion = value;
  else throw new UserError("ERR", `Unrecognized option '${text(args[2])}'`);
  ctx.session.reply.simple("OK");
}

export function clientOnOff(ctx: Context, args: Uint8Array[]): void {
  const v = lower(args[2]);
  if (v !== "on" && v !== "off") throw new UserError("ERR", "syntax error");
  ctx.session.reply.simple("OK");
}

function describeClient(s: Session, now: number): string {
  const age = Math.floor((now - s.connectedAt) / 1000);
  return `id=${s.id} addr=${s.remoteAddress} name=${s.name ?? ""} age=${age} resp=${s.reply.protocol} lib-name=${s.libName ?? ""} lib-ver=${s.libVersion ?? ""}`;
}

export function clientInfo(ctx: Context): void {
  ctx.session.reply.verbatim(`${describeClient(ctx.session, Date.now())}\n`);
}

export function clientList(ctx: Context): void {
  const now = Date.now();
  ctx.session.reply.verbatim(ctx.server.clientList().map((s) => `${describeClient(s, now)}\n`).join(""));
}
