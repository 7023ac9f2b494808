// Connection commands answered the way Redis 7 answers them, so client handshakes succeed:
// HELLO, AUTH, PING, ECHO, QUIT, RESET, SELECT, CLIENT ...
import { createHash, timingSafeEqual } from "node:crypto";
import { UserError } from "./errors.ts";
import { integer, lower, notInteger, text } from "./args.ts";
import { endTransaction } from "./transactions.ts";
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
  endTransaction(session);
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
  return `id=${s.id} addr=${s.remoteAddress} laddr=${s.localAddress} name=${s.name ?? ""} age=${age} resp=${s.reply.protocol} lib-name=${s.libName ?? ""} lib-ver=${s.libVersion ?? ""}`;
}

export function clientInfo(ctx: Context): void {
  ctx.session.reply.verbatim(`${describeClient(ctx.session, Date.now())}\n`);
}

export function clientList(ctx: Context): void {
  const now = Date.now();
  ctx.session.reply.verbatim(ctx.server.clientList().map((s) => `${describeClient(s, now)}\n`).join(""));
}

/** Client types CLIENT KILL TYPE knows; every ezra client is `normal` (no replicas, no pub/sub). */
const CLIENT_TYPES = new Set(["normal", "master", "slave", "replica", "pubsub"]);

interface KillFilter {
  id: number | null;
  type: string | null;
  addr: string | null;
  laddr: string | null;
  skipMe: boolean;
}

/** The filter form `CLIENT KILL <FILTER> <value> ...`, parsed with Redis's errors and in its order. */
function killFilter(args: Uint8Array[]): KillFilter {
  const filter: KillFilter = { id: null, type: null, addr: null, laddr: null, skipMe: true };
  for (let i = 2; i < args.length; i += 2) {
    const opt = lower(args[i]);
    if (i + 1 >= args.length) throw new UserError("ERR", "syntax error");
    const value = text(args[i + 1]);
    if (opt === "id") {
      const id = /^\d{1,16}$/.test(value) ? Number(value) : 0;
      if (id < 1) throw new UserError("ERR", "client-id should be greater than 0");
      filter.id = id;
    } else if (opt === "type") {
      if (!CLIENT_TYPES.has(value.toLowerCase())) throw new UserError("ERR", `Unknown client type '${value}'`);
      filter.type = value.toLowerCase();
    } else if (opt === "addr") filter.addr = value;
    else if (opt === "laddr") filter.laddr = value;
    else if (opt === "user") {
      // ezra has one user, `default`, that every client is (authenticated or not).
      if (value !== "default") throw new UserError("ERR", `No such user '${value}'`);
    } else if (opt === "skipme") {
      const v = value.toLowerCase();
      if (v !== "yes" && v !== "no") throw new UserError("ERR", "syntax error");
      filter.skipMe = v === "yes";
    } else throw new UserError("ERR", "syntax error");
  }
  return filter;
}

function killMatches(filter: KillFilter, s: Session, self: Session): boolean {
  if (filter.id !== null && s.id !== filter.id) return false;
  if (filter.type !== null && filter.type !== "normal") return false;
  if (filter.addr !== null && s.remoteAddress !== filter.addr) return false;
  if (filter.laddr !== null && s.localAddress !== filter.laddr) return false;
  return !(filter.skipMe && s === self);
}

/**
 * CLIENT KILL addr:port (old form: +OK, or an error when nobody has that address) or
 * CLIENT KILL <filter> <value> ... (how many were closed). The calling client, when it matches,
 * gets its reply first and is closed after it.
 */
export function clientKill(ctx: Context, args: Uint8Array[]): void {
  const self = ctx.session;
  const filter: KillFilter =
    args.length === 3 ? { id: null, type: null, addr: text(args[2]), laddr: null, skipMe: false } : killFilter(args);
  let killed = 0;
  for (const s of ctx.server.clientList()) {
    if (!killMatches(filter, s, self)) continue;
    killed++;
    if (s === self) self.closeAfterReply();
    else s.kill();
  }
  if (args.length > 3) return self.reply.integer(killed);
  if (killed === 0) throw new UserError("ERR", "No such client");
  self.reply.simple("OK");
}

/** CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends another client's blocked read; 1 when it was blocked. */
export function clientUnblock(ctx: Context, args: Uint8Array[]): void {
  if (args.length > 4) {
    throw new UserError("ERR", "unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP.");
  }
  // Redis checks the reason before the id.
  let error: string | null = null;
  if (args.length === 4) {
    const mode = lower(args[3]);
    if (mode === "error") error = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
    else if (mode !== "timeout") throw new UserError("ERR", "CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
  }
  const idText = text(args[2]);
  if (!/^-?\d{1,16}$/.test(idText)) throw notInteger();
  const id = Number(idText);
  const target = ctx.server.clientList().find((s) => s.id === id);
  ctx.session.reply.integer(target && target !== ctx.session && target.unblock(error) ? 1 : 0);
}
