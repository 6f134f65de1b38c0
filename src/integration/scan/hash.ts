import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { createBLAKE3 } from 'hash-wasm';
import type { HashType, Hashes } from '../records/schema.ts';
import { ModelFileError } from './safetensors.ts';

/** AutoV1 (A1111's legacy model hash): SHA-256 of 64 KiB at offset 1 MiB, for files ≥ 2 MiB. */
const AUTOV1_OFFSET = 0x100000;
const AUTOV1_LENGTH = 0x10000;
const AUTOV1_MIN_SIZE = 0x200000;

const READ_CHUNK_BYTES = 4 * 1024 * 1024;

export interface HashFileOptions {
  types: readonly HashType[];
  /** For safetensors: where tensor data starts (8 + header length). Enables AutoV3. */
  tensorOffset?: number;
}

export interface HashResult {
  hashes: Hashes;
  bytesRead: number;
}

/**
 * Computes every requested CivitAI hash type from a single sequential read of the file
 * (research/civitai-api.md §3). A file that changes while it is read is read again, and
 * reported if it keeps changing.
 */
export async function hashFile(file: string, options: HashFileOptions): Promise<HashResult> {
  let totalRead = 0;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const before = await stat(file);
    const result = await hashOnce(file, before.size, options);
    totalRead += result.bytesRead;
    const after = await stat(file);
    if (after.size === before.size && after.mtimeMs === before.mtimeMs && result.bytesRead === before.size) {
      return { hashes: result.hashes, bytesRead: totalRead };
    }
  }
  throw new ModelFileError('the file kept changing while it was being hashed; try again once it is complete');
}

async function hashOnce(file: string, size: number, options: HashFileOptions): Promise<HashResult> {
  const wants = new Set(options.types);
  const sha256 = createHash('sha256');
  const autoV3 =
    wants.has('AutoV3') && options.tensorOffset !== undefined ? createHash('sha256') : undefined;
  const autoV1 = wants.has('AutoV1') && size >= AUTOV1_MIN_SIZE ? createHash('sha256') : undefined;
  const blake3 = wants.has('BLAKE3') ? await createBLAKE3() : undefined;
  blake3?.init();
  let crc = 0;
  let offset = 0;

  const stream = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const start = offset;
    const end = offset + chunk.length;
    sha256.update(chunk);
    if (wants.has('CRC32')) crc = crc32(chunk, crc);
    blake3?.update(chunk);
    if (autoV3 && options.tensorOffset !== undefined) feedRange(autoV3, chunk, start, options.tensorOffset, end);
    if (autoV1) feedRange(autoV1, chunk, start, AUTOV1_OFFSET, AUTOV1_OFFSET + AUTOV1_LENGTH);
    offset = end;
  }

  const full = sha256.digest('hex').toUpperCase();
  const hashes: Hashes = {};
  if (wants.has('SHA256')) hashes.SHA256 = full;
  if (wants.has('AutoV2')) hashes.AutoV2 = full.slice(0, 10);
  if (autoV1) hashes.AutoV1 = autoV1.digest('hex').slice(0, 8).toUpperCase();
  if (autoV3) hashes.AutoV3 = autoV3.digest('hex').slice(0, 12).toUpperCase();
  if (blake3) hashes.BLAKE3 = blake3.digest('hex').toUpperCase();
  if (wants.has('CRC32')) hashes.CRC32 = crc32ToCivitai(crc);
  return { hashes, bytesRead: offset };
}

/** Feeds the part of `chunk` (which starts at file offset `chunkStart`) inside [from, to). */
function feedRange(hash: Hash, chunk: Buffer, chunkStart: number, from: number, to: number): void {
  const chunkEnd = chunkStart + chunk.length;
  const lo = Math.max(from, chunkStart);
  const hi = Math.min(to, chunkEnd);
  if (hi > lo) hash.update(chunk.subarray(lo - chunkStart, hi - chunkStart));
}

/**
 * CivitAI's scanner wrote the CRC-32 digest bytes in little-endian order (.NET Crc32), so
 * `hello world` is 85114A0D there, not zlib's 0D4A1185.
 */
export function crc32ToCivitai(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value >>> 0, 0);
  return bytes.toString('hex').toUpperCase();
}
