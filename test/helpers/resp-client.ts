// A small raw RESP client for tests: sends requests with encodeCommand() and parses every
// RESP2/RESP3 reply into a tree that keeps the reply's TYPE (simple vs bulk, which null, map vs array).
import type { Socket } from "bun";
import { encodeCommand } from "../../src/resp/encoder.ts";

/** One reply, typed as it came off the wire. Integers and doubles stay text: no precision loss. */
export type Reply =
  | { type: "simple"; value: string } // +
  | { type: "error"; value: string } // -
  | { type: "blobError"; value: string } // ! (RESP3 blob error)
  | { type: "integer"; value: string } // :
  | { type: "bulk"; value: string } // $
  | { type: "verbatim"; format: string; value: string } // =
  | { type: "double"; value: string } // ,
  | { type: "bignum"; value: string } // (
  | { type: "boolean"; value: boolean } // #
  | { type: "null" } // RESP3 _
  | { type: "nullBulk" } // RESP2 $-1
  | { type: "nullArray" } // RESP2 *-1
  | { type: "array"; items: Reply[] } // *
  | { type: "set"; items: Reply[] } // ~
  | { type: "push"; items: Reply[] } // >
  | { type: "map"; entries: [Reply, Reply][] } // %
  | { type: "attribute"; entries: [Reply, Reply][]; reply: Reply } // | then the reply it annotates
  | { type: "closed" }; // the server closed the connection before answering

/** Longest wait for one reply; a server that never answers fails the test instead of hanging it. */
export const REPLY_TIMEOUT_MS = 10_000;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const CR = 13;

/** Bytes as text: UTF-8 when valid, else each byte outside printable ASCII as \xHH. */
function bytesText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    let s = "";
    for (const b of bytes) s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
    return s;
  }
}

class Incomplete extends Error {}

/** Parses one reply at `pos`; throws Incomplete when the buffer ends mid-reply. */
export function parseReply(buf: Uint8Array, pos: number): { reply: Reply; next: number } {
  const lineEnd = findCrlf(buf, pos);
  const line = bytesText(buf.subarray(pos + 1, lineEnd));
  let next = lineEnd + 2;
  const aggregate = (n: number): Reply[] => {
    const items: Reply[] = [];
    for (let i = 0; i < n; i++) {
      const r = parseReply(buf, next);
      items.push(r.reply);
      next = r.next;
    }
    return items;
  };
  const pairs = (n: number): [Reply, Reply][] => {
    const flat = aggregate(n * 2);
    const out: [Reply, Reply][] = [];
    for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
    return out;
  };
  const blob = (): string => {
    const n = Number(line);
    if (next + n + 2 > buf.length) throw new Incomplete();
    const value = bytesText(buf.subarray(next, next + n));
    next += n + 2; // payload, then \r\n
    return value;
  };
  let reply: Reply;
  switch (String.fromCharCode(buf[pos])) {
    case "+": reply = { type: "simple", value: line }; break;
    case "-": reply = { type: "error", value: line }; break;
    case ":": reply = { type: "integer", value: line }; break;
    case ",": reply = { type: "double", value: line }; break;
    case "(": reply = { type: "bignum", value: line }; break;
    case "#": reply = { type: "boolean", value: line === "t" }; break;
    case "_": reply = { type: "null" }; break;
    case "$": reply = line === "-1" ? { type: "nullBulk" } : { type: "bulk", value: blob() }; break;
    case "!": reply = { type: "blobError", value: blob() }; break;
    case "=": {
      const text = blob();
      reply = { type: "verbatim", format: text.slice(0, 3), value: text.slice(4) }; // fmt:payload
      break;
    }
    case "*": reply = line === "-1" ? { type: "nullArray" } : { type: "array", items: aggregate(Number(line)) }; break;
    case "~": reply = { type: "set", items: aggregate(Number(line)) }; break;
    case ">": reply = { type: "push", items: aggregate(Number(line)) }; break;
    case "%": reply = { type: "map", entries: pairs(Number(line)) }; break;
    case "|": {
      const entries = pairs(Number(line));
      const inner = parseReply(buf, next);
      next = inner.next;
      reply = { type: "attribute", entries, reply: inner.reply };
      break;
    }
    default:
      throw new Error(`not a RESP reply: ${JSON.stringify(bytesText(buf.subarray(pos, Math.min(buf.length, pos + 40))))}`);
  }
  return { reply, next };
}

function findCrlf(buf: Uint8Array, from: number): number {
  for (let i = from; i + 1 < buf.length; i++) if (buf[i] === CR && buf[i + 1] === 10) return i;
  throw new Incomplete();
}

/** Renders a reply so that its type shows: +simple, "bulk", :int, $-1, *-1, _, [..], {k: v}, ~[..]. */
export function render(r: Reply): string {
  const list = (items: Reply[]) => items.map(render).join(", ");
  const pairs = (entries: [Reply, Reply][]) => entries.map(([k, v]) => `${render(k)}: ${render(v)}`).join(", ");
  switch (r.type) {
    case "simple": return `+${r.value}`;
    case "error": return `-${r.value}`;
    case "blobError": return `!${JSON.stringify(r.value)}`;
    case "integer": return `:${r.value}`;
    case "bulk": return JSON.stringify(r.value);
    case "verbatim": return `=${r.format}:${JSON.stringify(r.value)}`;
    case "double": return `,${r.value}`;
    case "bignum": return `(${r.value}`;
    case "boolean": return r.value ? "#t" : "#f";
    case "null": return "_";
    case "nullBulk": return "$-1";
    case "nullArray": return "*-1";
    case "array": return `[${list(r.items)}]`;
    case "set": return `~[${list(r.items)}]`;
    case "push": return `>[${list(r.items)}]`;
    case "map": return `{${pairs(r.entries)}}`;
    case "attribute": return `|{${pairs(r.entries)}} ${render(r.reply)}`;
    case "closed": return "<closed>";
  }
}

type Pending = { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: Timer };

/** One TCP connection; replies are matched to requests in order (pushes go to `pushes`). */
export class RespClient {
  readonly pushes: Reply[] = [];
  private buf = new Uint8Array(0);
  private pending: Pending[] = [];
  private unsent: Uint8Array[] = [];
  private closed = false;

  private constructor(private socket: Socket<undefined> | null) {}

  static async connect(port: number, host = "127.0.0.1"): Promise<RespClient> {
    const client = new RespClient(null);
    client.socket = await Bun.connect({
      hostname: host,
      port,
      socket: {
        data: (_s, chunk) => client.received(chunk),
        drain: () => client.flush(),
        close: () => client.ended(),
        error: () => client.ended(),
      },
    });
    return client;
  }

  /** Sends one command and resolves with its reply ({type: "closed"} once the server hung up). */
  send(args: (string | Uint8Array)[]): Promise<Reply> {
    if (this.closed) return Promise.resolve({ type: "closed" });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no reply to ${JSON.stringify(args.map(String))} within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      this.pending.push({ resolve, reject, timer });
      this.unsent.push(encodeCommand(args));
      this.flush();
    });
  }

  close(): void {
    this.socket?.end();
    this.ended();
  }

  // Bun's sockets do not buffer: keep the unwritten tail until drain.
  private flush(): void {
    while (this.socket && this.unsent.length > 0) {
      const head = this.unsent[0];
      const written = this.socket.write(head);
      if (written < head.length) {
        this.unsent[0] = head.subarray(Math.max(0, written));
        return;
      }
      this.unsent.shift();
    }
  }

  private received(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    let pos = 0;
    try {
      while (pos < joined.length) {
        const { reply, next } = parseReply(joined, pos);
        pos = next;
        this.deliver(reply);
      }
    } catch (err) {
      if (!(err instanceof Incomplete)) {
        for (const p of this.pending.splice(0)) p.reject(err as Error);
      }
    }
    this.buf = joined.slice(pos);
  }

  private deliver(reply: Reply): void {
    if (reply.type === "push") {
      this.pushes.push(reply);
      return;
    }
    const p = this.pending.shift();
    if (!p) throw new Error(`reply with no request: ${render(reply)}`);
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  private ended(): void {
    this.closed = true;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.resolve({ type: "closed" });
    }
  }
}
