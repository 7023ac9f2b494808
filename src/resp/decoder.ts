// Streaming RESP request decoder: a resumable state machine (args left, bulk length) over one buffer.
// Invariant: bytes before `end` are never rewritten, so argument views handed out stay valid forever.

import { splitInline } from "./inline.ts";

export interface DecoderLimits {
  /** Largest accepted bulk argument, in bytes (redis proto-max-bulk-len). */
  bulkBytesMax: number;
  /** Largest accepted multibulk argument count. */
  argsMax: number;
  /** Longest accepted inline command line, in bytes. */
  inlineBytesMax: number;
}

/** Malformed request; `message` is the Redis text without the "ERR " prefix. The connection must close. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

const LF = 10;
const CR = 13;
const STAR = 42;
const DOLLAR = 36;
const MINUS = 45;
const ZERO = 48;

const HEADER_BYTES_MAX = 64 * 1024; // a `*n` / `$n` line longer than this is an attack (redis PROTO_INLINE_MAX_SIZE)
const BUFFER_BYTES_MIN = 16 * 1024;
const PREALLOC_BYTES_MAX = 1024 * 1024; // never allocate further than this ahead of the bytes received
const EMPTY = new Uint8Array(0);

/**
 * Parses a `*n` / `$n` header number from buf[from, lf), which must end in CR.
 * Follows redis string2ll: optional '-', digits, no '+', spaces, leading zeros or "-0". NaN when invalid.
 */
function parseLength(buf: Uint8Array, from: number, lf: number): number {
  const to = lf - 1;
  if (to < from || buf[to] !== CR) return NaN;
  let i = from;
  const negative = buf[i] === MINUS;
  if (negative) i++;
  if (i === to) return NaN;
  if (buf[i] === ZERO) return !negative && to - i === 1 ? 0 : NaN;
  let n = 0;
  for (; i < to; i++) {
    const digit = buf[i] - ZERO;
    if (digit < 0 || digit > 9) return NaN;
    n = n * 10 + digit;
    if (n > Number.MAX_SAFE_INTEGER) return NaN;
  }
  return negative ? -n : n;
}

/**
 * Turns bytes from a connection into commands. Call push() per data event, then next() until null.
 * Returned arguments are views that stay valid after later pushes (chunks are copied in).
 */
export class RequestDecoder {
  private buf: Uint8Array = EMPTY;
  private pos = 0; // first unconsumed byte
  private end = 0; // end of received bytes; buf[end..] is free space
  private scanned = 0; // bytes after pos already searched for LF (so a long line is scanned once)
  private argsLeft = 0; // 0: at a request boundary
  private bulkLen = -1; // -1: expecting a `$n` header; else payload length pending at pos
  private args: Uint8Array[] = [];
  private argBytes = 0;
  private failure: ProtocolError | null = null;

  constructor(private readonly limits: DecoderLimits) {}

  /** Bytes received and not yet returned as part of a complete command. */
  get bufferedBytes(): number {
    return this.end - this.pos + this.argBytes;
  }

  /** Appends the bytes of one data event (copied; the caller may reuse `chunk`). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.end + chunk.length > this.buf.length) this.grow(chunk.length);
    this.buf.set(chunk, this.end); // writes only past `end`: no handed-out view is touched
    this.end += chunk.length;
  }

  /** The next complete command's arguments, or null when more bytes are needed. Throws ProtocolError. */
  next(): Uint8Array[] | null {
    if (this.failure !== null) throw this.failure;
    for (;;) {
      if (this.argsLeft === 0) {
        if (this.pos === this.end) {
          this.release();
          return null;
        }
        if (this.buf[this.pos] === STAR) {
          if (!this.multibulkHeader()) return null;
          continue;
        }
        const line = this.inlineLine();
        if (line === null) return null;
        if (line.length > 0) return line;
        continue; // empty line: no command, like redis
      }
      if (this.bulkLen < 0 && !this.bulkHeader()) return null;
      if (this.end - this.pos < this.bulkLen + 2) return null; // not enough data (+2 == trailing \r\n)
      const at = this.pos + this.bulkLen;
      if (this.buf[at] !== CR || this.buf[at + 1] !== LF) throw this.fail("expected '\\r\\n' after bulk");
      const arg = this.buf.subarray(this.pos, at);
      this.pos = at + 2;
      this.bulkLen = -1;
      this.args.push(arg);
      this.argBytes += arg.length;
      if (--this.argsLeft === 0) {
        const command = this.args;
        this.args = [];
        this.argBytes = 0;
        return command;
      }
    }
  }

  private fail(text: string): ProtocolError {
    this.failure = new ProtocolError(`Protocol error: ${text}`);
    return this.failure;
  }

  // Index of the next LF at or after pos, or -1. Remembers how far it looked.
  private findLf(): number {
    // A plain loop: header lines are a few bytes, and a subarray per line was 3% of a busy server.
    const buf = this.buf;
    const end = this.end;
    for (let i = this.pos + this.scanned; i < end; i++) {
      if (buf[i] === LF) {
        this.scanned = 0; // the caller consumes the line (or fails)
        return i;
      }
    }
    this.scanned = end - this.pos;
    return -1;
  }

  // The LF ending the header line at pos, or -1 if incomplete; fails once the line is too long.
  private headerEnd(tooBig: string): number {
    const lf = this.findLf();
    const length = lf < 0 ? this.end - this.pos : lf - this.pos;
    if (length > HEADER_BYTES_MAX) throw this.fail(tooBig);
    return lf;
  }

  // `*n\r\n`: checked against argsMax before any argument arrives.
  private multibulkHeader(): boolean {
    const lf = this.headerEnd("too big mbulk count string");
    if (lf < 0) return false;
    const n = parseLength(this.buf, this.pos + 1, lf);
    if (Number.isNaN(n) || n > this.limits.argsMax) throw this.fail("invalid multibulk length");
    this.pos = lf + 1;
    if (n > 0) this.argsLeft = n; // `*0` and `*-n` carry no command: redis skips them
    return true;
  }

  // `$n\r\n`: checked against bulkBytesMax before the payload arrives.
  private bulkHeader(): boolean {
    if (this.pos === this.end) return false;
    const first = this.buf[this.pos];
    if (first !== DOLLAR) throw this.fail(`expected '$', got '${String.fromCharCode(first)}'`);
    const lf = this.headerEnd("too big bulk count string");
    if (lf < 0) return false;
    const n = parseLength(this.buf, this.pos + 1, lf);
    if (Number.isNaN(n) || n < 0 || n > this.limits.bulkBytesMax) throw this.fail("invalid bulk length");
    this.pos = lf + 1;
    this.bulkLen = n;
    return true;
  }

  // One inline command (ended by \n or \r\n): its args, [] for a blank line, null if incomplete.
  private inlineLine(): Uint8Array[] | null {
    const lf = this.findLf();
    const length = lf < 0 ? this.end - this.pos : lf - this.pos;
    if (length > this.limits.inlineBytesMax) throw this.fail("too big inline request");
    if (lf < 0) return null;
    const stop = lf > this.pos && this.buf[lf - 1] === CR ? lf - 1 : lf;
    const args = splitInline(this.buf, this.pos, stop);
    if (args === null) throw this.fail("unbalanced quotes in request");
    this.pos = lf + 1;
    return args;
  }

  // Moves the unconsumed bytes to a new buffer with room for `extra` more. The old buffer is
  // left as is (views may point into it); consumed bytes are dropped with it.
  private grow(extra: number): void {
    const live = this.end - this.pos;
    const need = live + extra;
    // Into an empty buffer (the usual case: the last data event was consumed whole), the chunk
    // is copied at its own size; a partial command left over grows it by doubling.
    let size = live === 0 ? extra : Math.max(BUFFER_BYTES_MIN, need * 2);
    const bulkRest = this.bulkLen + 2; // pos is at the payload start while a bulk is pending
    if (this.bulkLen >= 0 && bulkRest > need) {
      // Room for the whole payload, so a big argument is copied O(1) times and ends up as one
      // view; allocation stays within PREALLOC_BYTES_MAX of received data (or doubling).
      size = Math.max(BUFFER_BYTES_MIN, Math.min(bulkRest, Math.max(need * 2, need + PREALLOC_BYTES_MAX)));
    }
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(this.pos, this.end));
    this.buf = next;
    this.pos = 0;
    this.end = live;
  }

  // Everything consumed: drop the buffer, so an idle connection holds no input memory (views
  // handed out keep the old buffer alive only as long as they are used).
  private release(): void {
    if (this.buf !== EMPTY) {
      this.buf = EMPTY;
      this.pos = 0;
      this.end = 0;
      this.scanned = 0;
    }
  }
}
