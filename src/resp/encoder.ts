// Reply writer: encodes RESP2/RESP3 replies into one growable per-connection buffer.
// Invariant: buf[0, len) holds whole encoded replies in call order; `protocol` only changes reply shapes.

const CR = 13;
const LF = 10;
const SPACE = 32;
const MINUS = 45;
const COLON = 58;

const INITIAL_BYTES = 4 * 1024;
const EMPTY = new Uint8Array(0);
const SHORT_STRING = 32; // below this, writing chars one by one beats TextEncoder's call cost

const utf8 = new TextEncoder();
const ascii = (s: string): Uint8Array => utf8.encode(s);
const NIL2 = ascii("$-1\r\n");
const NIL_ARRAY2 = ascii("*-1\r\n");
const NULL3 = ascii("_\r\n");
const TRUE3 = ascii("#t\r\n");
const FALSE3 = ascii("#f\r\n");
const ONE2 = ascii(":1\r\n");
const ZERO2 = ascii(":0\r\n");

const P = {
  simple: 43, error: MINUS, integer: COLON, bulk: 36, array: 42, map: 37, set: 126,
  double: 44, verbatim: 61, push: 62,
} as const; // + - : $ * % ~ , = >

// Redis spells the non-finite doubles inf, -inf and nan; finite ones round-trip.
function formatDouble(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Infinity) return "inf";
  if (n === -Infinity) return "-inf";
  return String(n);
}

/** Buffers replies for one connection; `take()` hands the bytes to the socket writer. */
export class ReplyWriter {
  /** Reply protocol, set by HELLO. Requests look the same in both. */
  protocol: 2 | 3 = 2;
  private buf = EMPTY; // allocated on first write: idle connections stay cheap
  private len = 0;

  /** `+s` (status reply). CR/LF in `s` become spaces. */
  simple(s: string): void {
    this.line(P.simple, s);
  }

  /** `-s`; `s` includes the code, e.g. "ERR no such key". CR/LF in `s` become spaces. */
  error(s: string): void {
    this.line(P.error, s);
  }

  integer(n: number | bigint): void {
    if (typeof n === "bigint") {
      this.line(P.integer, n.toString());
      return;
    }
    if (!Number.isSafeInteger(n)) throw new Error(`integer reply needs a safe integer, got ${n}`);
    this.header(P.integer, n);
  }

  /** `$len` + bytes; strings are written as UTF-8 straight into the buffer. */
  bulk(v: Uint8Array | string): void {
    if (typeof v === "string") {
      const n = v.length < SHORT_STRING && isAscii(v) ? v.length : Buffer.byteLength(v, "utf8");
      this.header(P.bulk, n);
      this.reserve(n + 2);
      this.text(v);
    } else {
      this.header(P.bulk, v.length);
      this.reserve(v.length + 2);
      this.buf.set(v, this.len);
      this.len += v.length;
    }
    this.crlf();
  }

  nil(): void {
    this.raw(this.protocol === 3 ? NULL3 : NIL2);
  }

  nilArray(): void {
    this.raw(this.protocol === 3 ? NULL3 : NIL_ARRAY2);
  }

  /** `*n`; the n elements follow as further calls. */
  array(n: number): void {
    this.count(P.array, n);
  }

  /** RESP3 `%n`, RESP2 `*2n`; the caller writes n key, value pairs. */
  map(n: number): void {
    if (this.protocol === 3) this.count(P.map, n);
    else this.count(P.array, n * 2);
  }

  set(n: number): void {
    this.count(this.protocol === 3 ? P.set : P.array, n);
  }

  /** RESP3 `,n`; RESP2 a bulk string of the same text. */
  double(n: number): void {
    if (this.protocol === 3) this.line(P.double, formatDouble(n));
    else this.bulk(formatDouble(n));
  }

  bool(b: boolean): void {
    if (this.protocol === 3) this.raw(b ? TRUE3 : FALSE3);
    else this.raw(b ? ONE2 : ZERO2);
  }

  /** RESP3 `=len\r\nfmt:s`; RESP2 a plain bulk string. `format` is three ASCII letters. */
  verbatim(s: string, format = "txt"): void {
    if (this.protocol === 2) {
      this.bulk(s);
      return;
    }
    if (format.length !== 3 || !isAscii(format)) throw new Error(`verbatim format must be 3 ASCII chars: ${format}`);
    const n = Buffer.byteLength(s, "utf8");
    this.header(P.verbatim, n + 4);
    this.reserve(n + 6);
    this.text(format);
    this.buf[this.len++] = COLON;
    this.text(s);
    this.crlf();
  }

  /** RESP3 `>n` (out-of-band push); RESP2 `*n`. */
  push(n: number): void {
    this.count(this.protocol === 3 ? P.push : P.array, n);
  }

  /** Pre-encoded reply bytes, copied. */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** Bytes buffered. */
  get length(): number {
    return this.len;
  }

  /** A position to truncate() back to, dropping the replies written since. */
  mark(): number {
    return this.len;
  }

  truncate(mark: number): void {
    if (!Number.isInteger(mark) || mark < 0 || mark > this.len) throw new Error(`bad reply mark ${mark}`);
    this.len = mark;
  }

  /** The buffered bytes (owned by the caller) and an empty writer. */
  take(): Uint8Array {
    // Handed over, not copied; the next reply allocates afresh, so an idle connection holds
    // no reply buffer.
    const out = this.buf.subarray(0, this.len);
    this.buf = EMPTY;
    this.len = 0;
    return out;
  }

  private reserve(n: number): void {
    const want = this.len + n;
    if (want <= this.buf.length) return;
    let size = Math.max(INITIAL_BYTES, this.buf.length * 2);
    while (size < want) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private crlf(): void {
    this.buf[this.len++] = CR;
    this.buf[this.len++] = LF;
  }

  // prefix, n, \r\n -- n written digit by digit, no string.
  private header(prefix: number, n: number): void {
    this.reserve(24); // prefix + '-' + 16 digits + \r\n, with room to spare
    const buf = this.buf;
    buf[this.len++] = prefix;
    if (n < 0) {
      buf[this.len++] = MINUS;
      n = -n;
    }
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    let p = this.len + digits;
    this.len = p;
    do {
      buf[--p] = 48 + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
    this.crlf();
  }

  // Aggregate length headers: a negative count is a caller bug (nil arrays have nilArray()).
  private count(prefix: number, n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`aggregate length must be >= 0, got ${n}`);
    this.header(prefix, n);
  }

  // prefix, s with CR/LF turned into spaces (a line reply cannot contain them), \r\n.
  private line(prefix: number, s: string): void {
    this.reserve(s.length * 3 + 3); // UTF-8 needs at most 3 bytes per UTF-16 unit
    this.buf[this.len++] = prefix;
    const from = this.len;
    this.text(s);
    const buf = this.buf;
    for (let i = from; i < this.len; i++) if (buf[i] === CR || buf[i] === LF) buf[i] = SPACE;
    this.crlf();
  }

  // UTF-8 of s at len; the caller reserved room.
  private text(s: string): void {
    const n = s.length;
    if (n < SHORT_STRING) {
      const buf = this.buf;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[this.len + i] = c;
      }
      if (i === n) {
        this.len += n;
        return;
      }
    }
    this.len += utf8.encodeInto(s, this.buf.subarray(this.len)).written;
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** A RESP multibulk request (`*n` of `$len` bulks), as a client sends it. */
export function encodeCommand(args: (string | Uint8Array)[]): Uint8Array {
  const w = new ReplyWriter();
  w.array(args.length);
  for (const arg of args) w.bulk(arg);
  return w.take();
}
