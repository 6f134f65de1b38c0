/**
 * CivitAI's six file hash types, computed from bytes in memory.
 *
 * Deliberately independent of the engine's streaming hasher (src/integration/engine/scan/hash.ts) so the
 * fake server and the sample library cross-check it instead of repeating it.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { blake3 } from 'hash-wasm';

export type CivitaiHashType = 'SHA256' | 'AutoV2' | 'AutoV1' | 'AutoV3' | 'BLAKE3' | 'CRC32';
export type CivitaiHashes = Partial<Record<CivitaiHashType, string>>;

const AUTOV1_OFFSET = 0x100000;
const AUTOV1_LENGTH = 0x10000;
const AUTOV1_MIN_SIZE = 0x200000;

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').toUpperCase();
}

/**
 * Where the tensor data of a safetensors file starts (8 + header length), or undefined when the
 * bytes are not a readable safetensors file (too short, length past the end, header not JSON).
 */
export function safetensorsDataOffset(bytes: Uint8Array): number | undefined {
  if (bytes.length < 8) return undefined;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const headerLength = view.readBigUInt64LE(0);
  if (headerLength > BigInt(bytes.length - 8)) return undefined;
  const end = 8 + Number(headerLength);
  try {
    const header: unknown = JSON.parse(view.subarray(8, end).toString('utf8'));
    if (header === null || typeof header !== 'object' || Array.isArray(header)) return undefined;
  } catch {
    return undefined;
  }
  return end;
}

/** CRC-32 digest bytes written little-endian, as CivitAI's .NET scanner did (`hello world` → 85114A0D). */
export function civitaiCrc32(bytes: Uint8Array): string {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(crc32(bytes) >>> 0, 0);
  return out.toString('hex').toUpperCase();
}

/**
 * All hash types CivitAI would store for a file with these bytes. AutoV1 only for files of at
 * least 2 MiB; AutoV3 only for readable safetensors (pass `safetensors: false` for `.pt`/`.ckpt`).
 */
export async function civitaiHashes(
  bytes: Uint8Array,
  options: { safetensors?: boolean } = {},
): Promise<CivitaiHashes> {
  const sha = sha256Hex(bytes);
  const hashes: CivitaiHashes = { SHA256: sha, AutoV2: sha.slice(0, 10) };
  if (bytes.length >= AUTOV1_MIN_SIZE) {
    hashes.AutoV1 = sha256Hex(bytes.subarray(AUTOV1_OFFSET, AUTOV1_OFFSET + AUTOV1_LENGTH)).slice(0, 8);
  }
  if (options.safetensors !== false) {
    const offset = safetensorsDataOffset(bytes);
    if (offset !== undefined) hashes.AutoV3 = sha256Hex(bytes.subarray(offset)).slice(0, 12);
  }
  hashes.CRC32 = civitaiCrc32(bytes);
  hashes.BLAKE3 = (await blake3(bytes)).toUpperCase();
  return hashes;
}
