import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BlockingWhileFast } from '../util/blocking-while-fast.ts';

/** Headers above this are not real safetensors files (the format caps them at 100 MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/**
 * How many files bulk work (discovery's stats, header reads, other tools' sidecars) keeps open
 * at once. A library has tens of thousands of files and a process often may open only 1,024
 * (`ulimit -n`); 64 in flight is as fast as more on local disks and NAS alike.
 */
export const OPEN_FILES_LIMIT = 64;

/**
 * A gate that lets at most `limit` calls of `run` be in flight at once; the others wait in
 * order. A call must not wait for another call of the same gate inside it (that can deadlock).
 */
export function createLimiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else active += 1;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next in line (active stays the same), or is freed.
      const next = waiting.shift();
      if (next) next();
      else active -= 1;
    }
  };
}

/** Every header read of the process goes through this gate, whoever asks for it. */
const headerReads = createLimiter(OPEN_FILES_LIMIT);

export interface SafetensorsHeader {
  /** Byte length of the JSON header; tensor data starts at `8 + headerLength`. */
  headerLength: number;
  /** The `__metadata__` map (training tags, modelspec.*, embedded hashes), strings only. */
  metadata: Record<string, string>;
  tensorCount: number;
}

export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

/**
 * Reads only the header of a .safetensors file: 8 bytes of little-endian length, then that
 * many bytes of JSON. Throws ModelFileError with a message fit for a report when the file is
 * empty, truncated or not safetensors at all.
 *
 * While header reads are fast (a local disk's page cache), they are made with blocking calls:
 * the six thread-pool round trips of open, stat, two reads and close cost the main thread more
 * than the read itself, ten thousand times in a first run. Once several in a row were slow (a
 * network share, a cold spinning disk), the rest go through the thread pool, so the event loop
 * never waits for a round trip.
 */
export function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  if (headerReadsBlocking.slow) return headerReads(() => readHeader(file));
  try {
    return Promise.resolve(headerReadsBlocking.time(() => readHeaderSync(file)));
  } catch (error) {
    return Promise.reject(error as Error);
  }
}

/** A header read from the page cache takes tens of µs; one slower than 2 ms waited for a device. */
const headerReadsBlocking = new BlockingWhileFast(2);
/** The first read of a blocking header read: the length field and most headers in one call. */
const FIRST_READ_BYTES = 64 * 1024;

function readHeaderSync(file: string): SafetensorsHeader {
  const fd = openModelFileSync(file);
  try {
    const { size } = fstatSync(fd);
    checkSize(size);
    const first = Buffer.allocUnsafe(Math.min(size, FIRST_READ_BYTES));
    const got = readSync(fd, first, 0, first.length, 0);
    if (got < 8) throw new ModelFileError(`too short to be a safetensors file (${got} bytes)`);
    const headerLength = checkDeclared(first.readBigUInt64LE(0), size);
    if (8 + headerLength <= got) return parseHeader(first.subarray(8, 8 + headerLength), headerLength);
    const header = Buffer.alloc(headerLength);
    first.copy(header, 0, 8, got);
    let at = got - 8;
    while (at < headerLength) {
      const read = readSync(fd, header, at, headerLength - at, 8 + at);
      if (read === 0) break;
      at += read;
    }
    return parseHeader(header, headerLength);
  } finally {
    closeSync(fd);
  }
}

async function readHeader(file: string): Promise<SafetensorsHeader> {
  const handle = await openModelFile(file);
  try {
    const { size } = await handle.stat();
    checkSize(size);
    const prefix = Buffer.alloc(8);
    await handle.read(prefix, 0, 8, 0);
    const headerLength = checkDeclared(prefix.readBigUInt64LE(0), size);
    const header = Buffer.alloc(headerLength);
    await handle.read(header, 0, headerLength, 8);
    return parseHeader(header, headerLength);
  } finally {
    await handle.close();
  }
}

function checkSize(size: number): void {
  if (size === 0) throw new ModelFileError('empty file (0 bytes)');
  if (size < 8) throw new ModelFileError(`too short to be a safetensors file (${size} bytes)`);
}

/** The header length the file declares, when the file can hold it. */
function checkDeclared(declared: bigint, size: number): number {
  if (declared > BigInt(Math.min(size - 8, MAX_HEADER_BYTES))) {
    throw new ModelFileError(
      `corrupt safetensors header: it claims ${declared} header bytes but the file has ${size - 8} after the length field`,
    );
  }
  return Number(declared);
}

function parseHeader(header: Buffer, headerLength: number): SafetensorsHeader {
  let parsed: unknown;
  try {
    parsed = JSON.parse(header.toString('utf8'));
  } catch {
    throw new ModelFileError('corrupt safetensors header: not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ModelFileError('corrupt safetensors header: not a JSON object');
  }
  const metadata: Record<string, string> = {};
  let tensorCount = 0;
  for (const [key, value] of Object.entries(parsed)) {
    if (key === '__metadata__') {
      if (value && typeof value === 'object') {
        for (const [metaKey, metaValue] of Object.entries(value)) {
          if (typeof metaValue === 'string') metadata[metaKey] = metaValue;
        }
      }
    } else {
      tensorCount += 1;
    }
  }
  return { headerLength, metadata, tensorCount };
}

/**
 * Opens a model file for reading without ever blocking: a pipe swapped in for a model (by
 * accident or on purpose) would make a plain open wait forever. Anything but a regular file is
 * refused with a ModelFileError.
 */
export async function openModelFile(file: string): Promise<FileHandle> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  const info = await handle.stat().catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  const refusal = notARegularFile(info);
  if (refusal) {
    await handle.close();
    throw refusal;
  }
  return handle;
}

/** `openModelFile` with blocking calls, for threads that do nothing else (the hash workers). */
export function openModelFileSync(file: string): number {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  let refusal: ModelFileError | undefined;
  try {
    refusal = notARegularFile(fstatSync(fd));
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  if (refusal) {
    closeSync(fd);
    throw refusal;
  }
  return fd;
}

function notARegularFile(info: Stats): ModelFileError | undefined {
  if (info.isFile()) return undefined;
  return new ModelFileError(
    info.isDirectory() ? 'is a folder now, not a file' : 'not a regular file (a pipe, socket or device named like a model)',
  );
}
