// Deterministic randomness for tests: mulberry32 and a helper that cuts bytes into random chunks.
// Invariant: the same seed always yields the same sequence, so failures replay exactly.

/** mulberry32: a tiny 32-bit PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cuts `bytes` into consecutive chunks of random length 1..maxChunk (mostly short ones). */
export function randomSplit(bytes: Uint8Array, rand: () => number, maxChunk = 32): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; ) {
    const size = 1 + Math.floor(rand() * rand() * maxChunk); // product skews toward small chunks
    chunks.push(bytes.subarray(i, i + size));
    i += size;
  }
  return chunks;
}
