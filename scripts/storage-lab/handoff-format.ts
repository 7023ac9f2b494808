// The batch formats of the hand-off experiment: op objects (structured clone) or packed records
// (transferred ArrayBuffer, or a half of a SharedArrayBuffer). Both carry the same ops:
// push (key + payload bytes), claim (key), ack (key).
//
// Packed batch: u32 op count, u32 bytes used, then per op a 24-byte header
//   u8 op | 3 pad | u32 queue id | f64 ms | u32 seq | u32 payload length
// followed by the payload, padded to 8 bytes so the next f64 stays aligned.

export const OP_PUSH = 0;
export const OP_CLAIM = 1;
export const OP_ACK = 2;
export const RECORD_HEADER_BYTES = 24;

export interface Op {
  op: number;
  q: number;
  ms: number;
  seq: number;
  payload?: Uint8Array;
}

// SharedArrayBuffer layout: a 64-byte control block (Int32 slots), then two halves: batch k is
// written to half k % 2, so one half commits while the next batch is written into the other.
export const CTRL_PUBLISHED = 0; // batches written so far; -1 tells the writer to stop
export const CTRL_COMMITTED = 1; // batches committed so far
export const SAB_DATA_OFFSET = 64;
export const HALF_BYTES = 8 << 20;

/** Bytes a packed batch of these ops needs. */
export function packedBytes(pushes: number, keysOnly: number, payloadBytes: number): number {
  return 8 + pushes * (RECORD_HEADER_BYTES + ((payloadBytes + 7) & ~7)) + keysOnly * RECORD_HEADER_BYTES;
}

/** Writes packed records into `view` from byte 8 on; `finish` stores the header. */
export class Packer {
  private at = 8;
  private count = 0;
  private readonly bytes: Uint8Array;
  constructor(private readonly view: DataView) {
    this.bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  }
  add(op: number, q: number, ms: number, seq: number, payload?: Uint8Array): void {
    const v = this.view;
    const len = payload ? payload.byteLength : 0;
    v.setUint8(this.at, op);
    v.setUint32(this.at + 4, q, true);
    v.setFloat64(this.at + 8, ms, true);
    v.setUint32(this.at + 16, seq, true);
    v.setUint32(this.at + 20, len, true);
    if (payload) this.bytes.set(payload, this.at + RECORD_HEADER_BYTES);
    this.at += RECORD_HEADER_BYTES + ((len + 7) & ~7);
    this.count++;
  }
  finish(): number {
    this.view.setUint32(0, this.count, true);
    this.view.setUint32(4, this.at, true);
    return this.at;
  }
}
