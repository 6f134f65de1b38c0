import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { quickStat } from '../scan/stat-many.ts';

export type WriteOutcome = 'written' | 'unchanged';

/**
 * Batched durability for many small writes (a run's sidecars): inside `withWriteBatch`, a write
 * is still temp → rename (a crash or kill -9 leaves the old or the new file, never half of one:
 * the kernel has the data before the rename), but the per-file fsync is skipped; the folders
 * written into are fsynced once each when the batch ends, which makes the renames durable.
 * (ext4's and btrfs's replace-by-rename flush the data with the rename, so a power cut does not
 * leave an empty file there either.) Per-file fsync on 50,000 sidecars was most of a run.
 */
export interface WriteBatch {
  /** Folders written into: each is known to exist (no mkdir for the next file) and is fsynced at the end. */
  readonly folders: Set<string>;
  files: number;
}

const batchStorage = new AsyncLocalStorage<WriteBatch>();

/** Runs `fn` with batched durability for every writeFileAtomic inside it, then fsyncs the folders. */
export async function withWriteBatch<T>(fn: () => Promise<T>): Promise<T> {
  const batch: WriteBatch = { folders: new Set(), files: 0 };
  try {
    return await batchStorage.run(batch, fn);
  } finally {
    await flushWriteBatch(batch);
  }
}

async function flushWriteBatch(batch: WriteBatch): Promise<void> {
  const folders = [...batch.folders];
  let next = 0;
  const worker = async () => {
    while (next < folders.length) {
      const folder = folders[next] as string;
      next += 1;
      await fsyncFolder(folder);
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, folders.length) }, worker));
}

async function fsyncFolder(folder: string): Promise<void> {
  try {
    const handle = await open(folder, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // EISDIR/EPERM/EINVAL on platforms that cannot fsync a folder: the rename is all there is.
  }
}

/**
 * Writes a file so that a reader (or a crash) only ever sees the old or the new content: data
 * goes to a temporary file in the same folder, is flushed to disk, then renamed over the target.
 * Identical content is not rewritten, so a rerun leaves mtimes alone.
 */
export async function writeFileAtomic(
  target: string,
  /** Text (written as UTF-8), bytes, or bytes in pieces: a file of 100 MB need not be one buffer first. */
  data: string | Uint8Array | readonly Uint8Array[],
  options: { skipIfUnchanged?: boolean } = {},
): Promise<WriteOutcome> {
  if (typeof data !== 'string') return writeBytesAtomic(target, (Array.isArray(data) ? data : [data]).map(asBuffer), options);
  const scratch = encodeUtf8(data);
  try {
    return await writeBytesAtomic(target, [scratch.bytes], options);
  } finally {
    scratch.release();
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function writeBytesAtomic(target: string, pieces: readonly Buffer[], options: { skipIfUnchanged?: boolean }): Promise<WriteOutcome> {
  // Read back only a file of the same size: most writes of a first run are new files.
  if (options.skipIfUnchanged !== false && (await sizeOf(target)) === byteLength(pieces)) {
    const current = await readFile(target).catch(() => undefined);
    if (current && holds(current, pieces)) return 'unchanged';
  }
  const folder = dirname(target);
  const batch = batchStorage.getStore();
  // A folder this batch already wrote into exists; one removed since then is made again below.
  if (!batch?.folders.has(folder)) await mkdir(folder, { recursive: true });
  const temporary = join(folder, `.${basename(target)}.${tempSuffix()}.tmp`);
  try {
    let handle;
    try {
      handle = await open(temporary, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !batch) throw error;
      await mkdir(folder, { recursive: true });
      handle = await open(temporary, 'wx');
    }
    try {
      // Each from where the one before ended (writeFile on a handle writes at its position).
      for (const piece of pieces) await handle.writeFile(piece);
      if (batch) {
        batch.folders.add(folder);
        batch.files += 1;
      } else {
        await handle.sync();
      }
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return 'written';
}

/**
 * UTF-8 of a sidecar's text in a reused buffer, handed back once the write is done. Most
 * sidecars hold some non-Latin-1 text (a CJK description, an emoji in a prompt), and V8 keeps
 * those strings two bytes a character: Buffer.from converts them at a fraction of the speed of
 * TextEncoder.encodeInto, and a fresh buffer for each of 10,000 writes of 40 KB was more work
 * again. A UTF-16 code unit is at most 3 bytes of UTF-8, so the buffer always holds the text.
 */
const SCRATCH_POOL_SIZE = 16;
/** A larger buffer is used once and left to the GC: the pool stays a few MB at most. */
const SCRATCH_KEPT_BYTES = 512 * 1024;
const SCRATCH_MIN_BYTES = 64 * 1024;
const scratchPool: Buffer[] = [];
const utf8 = new TextEncoder();

function encodeUtf8(text: string): { bytes: Buffer; release(): void } {
  const needed = text.length * 3;
  const index = scratchPool.findIndex((buffer) => buffer.length >= needed);
  const buffer = index >= 0 ? (scratchPool.splice(index, 1)[0] as Buffer) : Buffer.allocUnsafeSlow(Math.max(SCRATCH_MIN_BYTES, needed));
  const { written } = utf8.encodeInto(text, buffer);
  return {
    bytes: buffer.subarray(0, written),
    release() {
      if (buffer.length <= SCRATCH_KEPT_BYTES && scratchPool.length < SCRATCH_POOL_SIZE) scratchPool.push(buffer);
    },
  };
}

function byteLength(pieces: readonly Buffer[]): number {
  let total = 0;
  for (const piece of pieces) total += piece.length;
  return total;
}

/** Whether `current` is exactly the pieces, one after the other. */
function holds(current: Buffer, pieces: readonly Buffer[]): boolean {
  if (current.length !== byteLength(pieces)) return false;
  let at = 0;
  for (const piece of pieces) {
    if (!current.subarray(at, at + piece.length).equals(piece)) return false;
    at += piece.length;
  }
  return true;
}

async function sizeOf(file: string): Promise<number | undefined> {
  const info = await quickStat(file);
  return info?.isFile() ? info.size : undefined;
}

/**
 * 12 random hex digits for a temp name, from a pool refilled 512 names at a time: the same 48
 * random bits per name as one `randomBytes(6)` each, without a system call per file (tens of
 * thousands in a first run with previews).
 */
const SUFFIX_BYTES = 6;
let suffixPool = Buffer.alloc(0);
let suffixNext = 0;
function tempSuffix(): string {
  if (suffixNext + SUFFIX_BYTES > suffixPool.length) {
    suffixPool = randomBytes(SUFFIX_BYTES * 512);
    suffixNext = 0;
  }
  suffixNext += SUFFIX_BYTES;
  return suffixPool.toString('hex', suffixNext - SUFFIX_BYTES, suffixNext);
}

/** JSON the way sidecars are written: 2-space indent, UTF-8 kept as is, trailing newline. */
export function toJsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The temporary name a hard link gets before it is renamed over `target` (the WebUI preview). */
export function linkTempPath(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
}

/**
 * Our temporary names, and only ours: `.<target>.<12 hex>.tmp` (writeFileAtomic) and
 * `.<target>.<pid>.tmp` (linkTempPath). Returns the target's name (and the pid), else undefined.
 */
export function parseTempName(name: string): { target: string; pid?: number } | undefined {
  const match = /^\.(.+)\.(?:([0-9a-f]{12})|([1-9]\d{0,9}))\.tmp$/.exec(name);
  if (!match) return undefined;
  return { target: match[1] as string, ...(match[3] ? { pid: Number(match[3]) } : {}) };
}

/**
 * A temp file is stale when its last write is older than this. A write of ours takes
 * milliseconds to seconds (open, write, fsync, rename); a parallel run's live temp file is
 * always newer. Deleting a live one would lose nothing anyway: its rename fails and that
 * write is reported, the target keeps its old content.
 */
export const STALE_TEMP_MS = 10 * 60_000;

/**
 * Removes the leftovers of interrupted writes from `folder`: only names of our pattern whose
 * target `belongs` to us (e.g. starts with a model's name in that folder), not written in the
 * last `STALE_TEMP_MS`, and, for hard-link temps (which keep the source's mtime), named after a
 * process that no longer runs here. Never throws: a folder that cannot be read is skipped.
 */
export async function sweepStaleTempFiles(
  folder: string,
  belongs: (target: string) => boolean,
  options: { now?: number; olderThanMs?: number; names?: readonly string[] } = {},
): Promise<string[]> {
  const now = options.now ?? Date.now();
  const olderThan = options.olderThanMs ?? STALE_TEMP_MS;
  let names: readonly string[];
  try {
    // The folder's names as a listing of it already has them (discovery read it in this run).
    names = options.names ?? (await readdir(folder));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const parsed = parseTempName(name);
    if (!parsed || !belongs(parsed.target)) continue;
    if (parsed.pid !== undefined && processIsAlive(parsed.pid)) continue;
    const file = join(folder, name);
    try {
      const info = await stat(file);
      if (!info.isFile() || now - info.mtimeMs < olderThan) continue;
      await rm(file);
      removed.push(file);
    } catch {
      // Gone already (another run swept it), or not ours to remove: leave it.
    }
  }
  return removed;
}

function processIsAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as somebody else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Error codes that mean "this file could not be written here" (as opposed to a download or
 * a lookup that failed): the run did not do its job for that model and must say so.
 */
const WRITE_FAILURE_CODES = ['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'EFBIG', 'EISDIR', 'ENOTDIR', 'EEXIST', 'ENAMETOOLONG', 'EIO'] as const;

/** The code of a failed write, from the error or from a message that quotes it (`EACCES: …`). */
export function writeFailureCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && (WRITE_FAILURE_CODES as readonly string[]).includes(code)) return code;
  const message = typeof error === 'string' ? error : error instanceof Error ? error.message : '';
  return WRITE_FAILURE_CODES.find((candidate) => new RegExp(`\\b${candidate}: `).test(message));
}

/** What to do about a failed write, for the console and the report. */
export function writeFailureHint(code: string | undefined, options: { baseDir?: string } = {}): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return options.baseDir
        ? `output.base_dir (${options.baseDir}) must be a folder this user can write to`
        : 'make that folder writable for this user, or set output.base_dir to a writable folder to keep sidecars elsewhere';
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return 'the disk (or quota) is full: free some space and run again';
    case 'EISDIR':
    case 'ENOTDIR':
    case 'EEXIST':
      return 'something else is in the way at that path (a folder or a file of that name): move it away and run again';
    case 'ENAMETOOLONG':
      return 'the name is too long for this file system: rename the model file or change output.metadata.filename';
    default:
      return 'fix the cause and run again (the next run writes what is missing)';
  }
}

/** Paths for a message: one as is; several in one folder as `N files in <folder>: a, b`. */
export function describePaths(paths: readonly string[], noun = 'files'): string {
  if (paths.length === 1) return paths[0] as string;
  const folder = dirname(paths[0] as string);
  if (paths.every((file) => dirname(file) === folder)) return `${paths.length} ${noun} in ${folder}: ${paths.map((file) => basename(file)).join(', ')}`;
  return `${paths.length} ${noun}: ${paths.join(', ')}`;
}
