// Fuzz inputs for the RESP request decoder: seeded random bytes, valid frames, and mutations of
// them that hit every branch (bad headers, extreme numbers, missing CRLF, over-long lines).
import { mulberry32 } from "../test/resp/prng.ts";

export type Rand = () => number;

/** The decoder refuses a `*n`/`$n` line longer than this (redis PROTO_INLINE_MAX_SIZE). */
const HEADER_BYTES_CAP = 64 * 1024;

const enc = new TextEncoder();
const PROTOCOL_BYTES = [...enc.encode("*$\r\n-+:0123456789 \"'\\x\t")];
const NUMBERS = ["-1", "0", "-0", "00", "1", "2", "+1", " 1", "1024", "1025", "1048577", "4294967296",
  "9007199254740993", "99999999999999999999", "-9223372036854775808", "", "x", "1\r"];
const WORDS = ["PING", "ECHO", "XADD", "XREADGROUP", "XACK", "XNACK", "XLEN", "XDEL", "HELLO", "AUTH", "QUIT",
  "CLIENT", "SETNAME", "INFO", "COMMAND", "DOCS", "XGROUP", "CREATE", "XINFO", "STREAM", "GROUP", "STREAMS",
  "COUNT", "NOACK", "BLOCK", "1", "0", "3", "*", ">", "$", "q", "fuzz", "g", "c", "ttl", "max_attempts",
  "\"a b\"", "'x'", "\"\\x41\"", "\x00\xff"];

export const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)];
const int = (rand: Rand, max: number) => Math.floor(rand() * max);

function randomBytes(rand: Rand, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const biased = rand() < 0.7; // mostly protocol punctuation and digits, where the decoder branches
  for (let i = 0; i < length; i++) out[i] = biased && rand() < 0.6 ? pick(rand, PROTOCOL_BYTES) : int(rand, 256);
  return out;
}

function validFrame(rand: Rand): Uint8Array {
  const args: string[] = [pick(rand, WORDS)];
  for (let n = int(rand, 6); n > 0; n--) args.push(rand() < 0.8 ? pick(rand, WORDS) : Buffer.from(randomBytes(rand, int(rand, 12))).toString("latin1"));
  if (rand() < 0.25) return Buffer.from(`${args.join(" ")}${rand() < 0.5 ? "\r\n" : "\n"}`, "latin1"); // inline
  const bulks = args.map((a) => `$${Buffer.byteLength(a, "latin1")}\r\n${a}\r\n`).join("");
  return Buffer.from(`*${args.length}\r\n${bulks}`, "latin1");
}

// One structural change to a frame: the kinds of damage a broken client or an attacker sends.
function mutate(rand: Rand, input: Uint8Array): Uint8Array {
  const bytes = Buffer.from(input);
  const at = int(rand, bytes.length + 1);
  switch (int(rand, 8)) {
    case 0: // flip one byte
      if (bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] = int(rand, 256);
      return bytes;
    case 1: // insert protocol bytes
      return Buffer.concat([bytes.subarray(0, at), randomBytes(rand, 1 + int(rand, 4)), bytes.subarray(at)]);
    case 2: // delete a range
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + int(rand, 8))]);
    case 3: // truncate
      return bytes.subarray(0, at);
    case 4: { // replace the first number after a * or $ by an extreme one
      const text = bytes.toString("latin1");
      const replaced = text.replace(/([*$])-?\d+/g, (m, sigil: string) => (rand() < 0.3 ? `${sigil}${pick(rand, NUMBERS)}` : m));
      return Buffer.from(replaced, "latin1");
    }
    case 5: // duplicate a slice (repeated headers, doubled payloads)
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.max(0, at - 16), at), bytes.subarray(at)]);
    case 6: // drop CR or LF characters
      return Buffer.from(bytes.filter((b) => !((b === 13 || b === 10) && rand() < 0.3)));
    default: { // a long run without a newline: header, inline and bulk limits (rarely past the 64 KiB header cap)
      const run = rand() < 0.03 ? HEADER_BYTES_CAP + int(rand, 4096) : 1 + int(rand, 9000);
      return Buffer.concat([bytes.subarray(0, at), Buffer.alloc(run, pick(rand, [65, 48, 32, 0x22])), bytes.subarray(at)]);
    }
  }
}

/** One fuzz input: random bytes, mutated valid frames, or several of those concatenated. */
export function generateInput(rand: Rand): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let n = 1 + (rand() < 0.3 ? int(rand, 4) : 0); n > 0; n--) {
    const kind = rand();
    if (kind < 0.2) parts.push(randomBytes(rand, int(rand, 200)));
    else if (kind < 0.3) parts.push(validFrame(rand));
    else {
      let frame = validFrame(rand);
      for (let m = 1 + int(rand, 3); m > 0; m--) frame = mutate(rand, frame);
      parts.push(frame);
    }
  }
  return Buffer.concat(parts);
}

export { mulberry32 };
