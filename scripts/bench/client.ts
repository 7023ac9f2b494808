// A small pipelining RESP2 client over Bun.connect for the benchmark: exact control of how many
// commands are in flight, one socket write per tick, replies matched to callbacks in order.
import type { Socket } from "bun";

export class ReplyError {
  constructor(readonly message: string) {}
}

/** A bulk string longer than BULK_TEXT_BYTES_MAX: the bench only needs its size, not its bytes. */
export class Blob {
  constructor(readonly bytes: number) {}
}

export type Reply = string | number | null | ReplyError | Blob | Reply[];
export type OnReply = (reply: Reply) => void;

const CR = 13;
/** Bulk strings up to this size become text (ids, field names, 64-byte payloads); larger ones a Blob. */
const BULK_TEXT_BYTES_MAX = 64;
/** Thrown inside the parser when the buffer ends mid-reply; parsing restarts when more arrives. */
const INCOMPLETE = Symbol("incomplete");

const utf8 = new TextEncoder();

/** Encodes a command as a RESP array of bulk strings. */
export function encode(args: (string | Uint8Array)[]): Uint8Array {
  const parts = args.map((a) => (typeof a === "string" ? utf8.encode(a) : a));
  let size = 16;
  for (const p of parts) size += p.length + 16;
  const out = Buffer.allocUnsafe(size);
  let at = out.write(`*${parts.length}\r\n`, 0, "latin1");
  for (const p of parts) {
    at += out.write(`$${p.length}\r\n`, at, "latin1");
    out.set(p, at);
    at += p.length;
    out[at++] = CR;
    out[at++] = 10;
  }
  return out.subarray(0, at);
}

export class RespClient {
  private readonly callbacks: (OnReply | undefined)[] = [];
  private head = 0; // callbacks[head] gets the next reply
  private input: Buffer = Buffer.alloc(0);
  private pos = 0;
  private outgoing: Uint8Array[] = [];
  private outgoingBytes = 0;
  private unwritten: Uint8Array | null = null;
  private flushQueued = false;
  private closed = false;
  private socket!: Socket<RespClient>;

  static async connect(port: number, host = "127.0.0.1"): Promise<RespClient> {
    const client = new RespClient();
    client.socket = await Bun.connect<RespClient>({
      hostname: host,
      port,
      data: client,
      socket: {
        data: (s, chunk) => s.data.receive(chunk),
        drain: (s) => s.data.flush(),
        close: (s) => s.data.onClose(new Error("connection closed by server")),
        error: (s, err) => s.data.onClose(err),
      },
    });
    return client;
  }

  get inFlight(): number {
    return this.callbacks.length - this.head;
  }

  /** Queues pre-encoded command bytes; `onReply` runs when its reply arrives. Written at the end of the tick. */
  send(command: Uint8Array, onReply: OnReply): void {
    if (this.closed) throw new Error("bench client: send on a closed connection");
    this.callbacks.push(onReply);
    this.outgoing.push(command);
    this.outgoingBytes += command.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  call(args: (string | Uint8Array)[]): Promise<Reply> {
    return new Promise((resolve) => this.send(encode(args), resolve));
  }

  /** Like call(), but a RESP error reply rejects. */
  async ok(args: (string | Uint8Array)[]): Promise<Reply> {
    const reply = await this.call(args);
    if (reply instanceof ReplyError) throw new Error(`${args[0]} failed: ${reply.message}`);
    return reply;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.closed) return;
    if (this.outgoing.length > 0) {
      const batch = this.outgoing.length === 1 && !this.unwritten ? this.outgoing[0] : this.joinOutgoing();
      this.outgoing = [];
      this.outgoingBytes = 0;
      this.unwritten = batch;
    }
    if (!this.unwritten) return;
    const written = this.socket.write(this.unwritten);
    this.unwritten = written >= this.unwritten.length ? null : this.unwritten.subarray(Math.max(0, written));
  }

  private joinOutgoing(): Uint8Array {
    const rest = this.unwritten?.length ?? 0;
    const out = new Uint8Array(rest + this.outgoingBytes);
    if (this.unwritten) out.set(this.unwritten, 0);
    let at = rest;
    for (const part of this.outgoing) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  // Commands still waiting get an error reply, so no caller waits forever on a dead connection.
  private onClose(err: Error): void {
    this.closed = true;
    const waiting = this.callbacks.slice(this.head);
    this.callbacks.length = 0;
    this.head = 0;
    for (const cb of waiting) cb?.(new ReplyError(`connection closed: ${err.message}`));
  }

  /** Parses replies from received bytes (any split) and runs their callbacks in order. */
  receive(chunk: Buffer): void {
    this.input = this.pos < this.input.length ? Buffer.concat([this.input.subarray(this.pos), chunk]) : chunk;
    this.pos = 0;
    for (;;) {
      if (this.pos >= this.input.length) break;
      const start = this.pos;
      let reply: Reply;
      try {
        reply = this.parse();
      } catch (err) {
        if (err !== INCOMPLETE) throw err;
        this.pos = start;
        break;
      }
      const cb = this.callbacks[this.head];
      this.callbacks[this.head++] = undefined;
      if (this.head > 4096 && this.head * 2 > this.callbacks.length) {
        this.callbacks.splice(0, this.head);
        this.head = 0;
      }
      if (!cb) throw new Error("bench client: a reply nobody asked for");
      cb(reply);
    }
    // Keep only the unparsed tail; the chunk may be reused by the runtime.
    this.input = Buffer.from(this.input.subarray(this.pos));
    this.pos = 0;
  }

  private line(): number {
    const cr = this.input.indexOf(CR, this.pos);
    if (cr < 0 || cr + 1 >= this.input.length) throw INCOMPLETE;
    return cr;
  }

  private int(from: number, to: number): number {
    const b = this.input;
    let i = from;
    const negative = b[i] === 45;
    if (negative) i++;
    let n = 0;
    for (; i < to; i++) n = n * 10 + b[i] - 48;
    return negative ? -n : n;
  }

  private parse(): Reply {
    const b = this.input;
    const type = b[this.pos];
    const cr = this.line();
    const from = this.pos + 1;
    this.pos = cr + 2;
    switch (type) {
      case 43: // +
        return b.toString("latin1", from, cr);
      case 45: // -
        return new ReplyError(b.toString("utf8", from, cr));
      case 58: // :
        return this.int(from, cr);
      case 36: {
        // $
        const n = this.int(from, cr);
        if (n < 0) return null;
        if (this.pos + n + 2 > b.length) throw INCOMPLETE;
        const value = n <= BULK_TEXT_BYTES_MAX ? b.toString("latin1", this.pos, this.pos + n) : new Blob(n);
        this.pos += n + 2;
        return value;
      }
      case 42: {
        // *
        const n = this.int(from, cr);
        if (n < 0) return null;
        const items = new Array<Reply>(n);
        for (let i = 0; i < n; i++) items[i] = this.parse();
        return items;
      }
      case 95: // _ (RESP3 null)
        return null;
      default:
        throw new Error(`bench client: unexpected reply type '${String.fromCharCode(type)}'`);
    }
  }
}
