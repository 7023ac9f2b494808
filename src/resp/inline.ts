// Splits one inline command line into arguments with the quoting rules of redis `sdssplitargs`.
// Invariant: the input is never modified; every argument is a view into one fresh output buffer.

const SPACE = 32;
const TAB = 9;
const LF = 10;
const CR = 13;
const DQUOTE = 34;
const SQUOTE = 39;
const BACKSLASH = 92;
const LOWER_X = 120;

// isspace(): ' ', \t, \n, \v, \f, \r
function isSpace(b: number): boolean {
  return b === SPACE || (b >= TAB && b <= CR);
}

function hexValue(b: number): number {
  if (b >= 48 && b <= 57) return b - 48; // 0-9
  if (b >= 97 && b <= 102) return b - 87; // a-f
  if (b >= 65 && b <= 70) return b - 55; // A-F
  return -1;
}

function unescape(b: number): number {
  switch (b) {
    case 110: return LF; // \n
    case 114: return CR; // \r
    case 116: return TAB; // \t
    case 98: return 8; // \b
    case 97: return 7; // \a
    default: return b; // \" \\ and anything else stand for themselves
  }
}

/**
 * Splits `src[from, to)` into arguments, or returns null on unbalanced quotes.
 * Unlike the C original, a NUL byte is an ordinary byte here (no string terminator).
 */
export function splitInline(src: Uint8Array, from: number, to: number): Uint8Array[] | null {
  // A decoded argument is never longer than its source text, so one buffer fits them all.
  const out = new Uint8Array(to - from);
  const args: Uint8Array[] = [];
  let w = 0;
  let p = from;
  for (;;) {
    while (p < to && isSpace(src[p])) p++;
    if (p >= to) return args;
    const start = w;
    let quote = 0; // DQUOTE or SQUOTE while inside quotes
    for (;;) {
      if (quote === DQUOTE) {
        if (p >= to) return null; // unterminated "
        const b = src[p];
        if (b === BACKSLASH && p + 3 < to && src[p + 1] === LOWER_X &&
            hexValue(src[p + 2]) >= 0 && hexValue(src[p + 3]) >= 0) {
          out[w++] = hexValue(src[p + 2]) * 16 + hexValue(src[p + 3]);
          p += 4;
        } else if (b === BACKSLASH && p + 1 < to) {
          out[w++] = unescape(src[p + 1]);
          p += 2;
        } else if (b === DQUOTE) {
          // A closing quote must end the argument: `"a"b` is rejected like in redis.
          if (p + 1 < to && !isSpace(src[p + 1])) return null;
          p++;
          break;
        } else {
          out[w++] = b;
          p++;
        }
      } else if (quote === SQUOTE) {
        if (p >= to) return null; // unterminated '
        const b = src[p];
        if (b === BACKSLASH && p + 1 < to && src[p + 1] === SQUOTE) {
          out[w++] = SQUOTE; // only \' is an escape inside single quotes
          p += 2;
        } else if (b === SQUOTE) {
          if (p + 1 < to && !isSpace(src[p + 1])) return null;
          p++;
          break;
        } else {
          out[w++] = b;
          p++;
        }
      } else {
        if (p >= to) break;
        const b = src[p];
        // Only these end an unquoted argument (\v and \f do not, as in redis).
        if (b === SPACE || b === LF || b === CR || b === TAB) {
          p++;
          break;
        }
        if (b === DQUOTE || b === SQUOTE) quote = b; // a quote may open mid-argument: a"b c" -> `ab c`
        else out[w++] = b;
        p++;
      }
    }
    args.push(out.subarray(start, w));
  }
}
