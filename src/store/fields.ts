// Encodes a task's field list for the `fields` column: a JSON array (TEXT) when every
// field is UTF-8, so people can read it, else a length-prefixed BLOB. Round-trips exactly.
import { isUtf8 } from "node:buffer";

export type FieldValue = string | Uint8Array;

export function encodeFields(fields: Uint8Array[]): string | Uint8Array {
  const texts = new Array<string>(fields.length);
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (!isUtf8(f)) return encodeBinary(fields);
    texts[i] = Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString("utf8");
  }
  return JSON.stringify(texts);
}

export function decodeFields(stored: string | Uint8Array): FieldValue[] {
  if (typeof stored === "string") return JSON.parse(stored) as string[];
  return decodeBinary(stored);
}

// Binary form: for each field, a 4-byte big-endian length then the bytes.
function encodeBinary(fields: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const f of fields) size += 4 + f.byteLength;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const f of fields) {
    view.setUint32(at, f.byteLength);
    out.set(f, at + 4);
    at += 4 + f.byteLength;
  }
  return out;
}

function decodeBinary(blob: Uint8Array): Uint8Array[] {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const fields: Uint8Array[] = [];
  let at = 0;
  while (at < blob.byteLength) {
    const len = view.getUint32(at);
    fields.push(blob.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return fields;
}
