// Reads an executable's header to say what it is: ELF (and, for Linux, which libc's loader it
// asks for), Mach-O or PE, and the CPU it is built for. Only the header bytes are read.
import { closeSync, openSync, readSync } from "node:fs";

export interface ExecutableFormat {
  format: "elf" | "macho" | "pe";
  arch: "x64" | "arm64";
  /** ELF only: the dynamic loader (PT_INTERP), e.g. /lib/ld-musl-x86_64.so.1. */
  interpreter?: string;
  /** Mach-O only: it has a code signature (arm64 macOS kills unsigned executables at launch). */
  signed?: boolean;
}

/** The headers, program headers and PT_INTERP of a Bun executable all sit in the first pages. */
const HEAD_BYTES = 64 * 1024;

const ELF_MACHINE: Record<number, "x64" | "arm64"> = { 0x3e: "x64", 0xb7: "arm64" };
const MACHO_CPU: Record<number, "x64" | "arm64"> = { 0x01000007: "x64", 0x0100000c: "arm64" };
const PE_MACHINE: Record<number, "x64" | "arm64"> = { 0x8664: "x64", 0xaa64: "arm64" };

function head(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    return buf.subarray(0, readSync(fd, buf, 0, HEAD_BYTES, 0));
  } finally {
    closeSync(fd);
  }
}

function known<T>(table: Record<number, T>, value: number, what: string): T {
  const found = table[value];
  if (found === undefined) throw new Error(`unknown ${what} 0x${value.toString(16)}`);
  return found;
}

/** 64-bit little-endian ELF: e_machine, then the PT_INTERP program header's string. */
function elf(b: Buffer): ExecutableFormat {
  if (b[4] !== 2 || b[5] !== 1) throw new Error(`ELF class ${b[4]} data ${b[5]}: not 64-bit little-endian`);
  const arch = known(ELF_MACHINE, b.readUInt16LE(18), "ELF e_machine");
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  let interpreter: string | undefined;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (b.readUInt32LE(ph) !== 3) continue; // PT_INTERP
    const offset = Number(b.readBigUInt64LE(ph + 8));
    const size = Number(b.readBigUInt64LE(ph + 0x20));
    interpreter = b.toString("latin1", offset, offset + size).replace(/\0+$/, "");
  }
  return { format: "elf", arch, interpreter };
}

/** 64-bit Mach-O: cputype, then a walk of the load commands looking for LC_CODE_SIGNATURE. */
function macho(b: Buffer): ExecutableFormat {
  const arch = known(MACHO_CPU, b.readUInt32LE(4), "Mach-O cputype");
  const ncmds = b.readUInt32LE(16);
  let signed = false;
  for (let i = 0, offset = 32; i < ncmds && offset + 8 <= b.length; i++) {
    if (b.readUInt32LE(offset) === 0x1d) signed = true; // LC_CODE_SIGNATURE
    offset += b.readUInt32LE(offset + 4);
  }
  return { format: "macho", arch, signed };
}

/** PE: "MZ", e_lfanew at 0x3c points at "PE\0\0", then the COFF Machine field. */
function pe(b: Buffer): ExecutableFormat {
  const lfanew = b.readUInt32LE(0x3c);
  if (b.toString("latin1", lfanew, lfanew + 4) !== "PE\0\0") throw new Error("MZ header without a PE signature");
  return { format: "pe", arch: known(PE_MACHINE, b.readUInt16LE(lfanew + 4), "PE machine") };
}

export function executableFormat(path: string): ExecutableFormat {
  const b = head(path);
  if (b.length < 64) throw new Error(`${path}: ${b.length} bytes, too short for an executable`);
  if (b.readUInt32BE(0) === 0x7f454c46) return elf(b); // \x7fELF
  if (b.readUInt32LE(0) === 0xfeedfacf) return macho(b);
  if (b.toString("latin1", 0, 2) === "MZ") return pe(b);
  throw new Error(`${path}: not ELF, 64-bit Mach-O or PE (starts ${b.subarray(0, 4).toString("hex")})`);
}
