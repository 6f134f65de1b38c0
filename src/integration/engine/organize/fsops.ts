/**
 * File primitives for the organizer. Each one is idempotent and judges the disk as it finds it,
 * so a run interrupted at any instruction can be finished or reversed by calling it again. The one
 * rule they share: a path is only ever deleted when the same bytes are known to exist at another
 * path (same inode, or the same size and SHA-256).
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { chmod, link, lstat, open, readlink, rename, rm, rmdir, mkdir, symlink, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';

export class OrganizeError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'OrganizeError';
    this.code = code;
  }
}

/** Observes the points between the instructions of an operation (tests kill the process there). */
export type StepProbe = (phase: string, detail?: string) => void;

export interface FileOpContext {
  step: StepProbe;
  /** Test hook: behave as if source and target were on different devices. */
  forceCrossDevice?: boolean;
  /** Copy buffer size (tests make it small to stop mid-copy). */
  chunkSize?: number;
}

const DEFAULT_CHUNK = 1 << 20;

export async function lstatOrNull(file: string): Promise<BigIntStats | null> {
  try {
    return await lstat(file, { bigint: true });
  } catch (error) {
    if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return null;
    throw error;
  }
}

export function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

export function sameInode(a: BigIntStats, b: BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** Flushes a directory entry change (rename, link, unlink) to disk. Not possible on Windows: ignored. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on platforms that cannot fsync a directory.
  } finally {
    await handle?.close().catch(() => {});
  }
}

export async function sha256File(file: string, chunkSize = DEFAULT_CHUNK): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(chunkSize);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex').toUpperCase();
}

/** Same bytes (regular files: size + SHA-256; symlinks: same link text). */
export async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([lstatOrNull(a), lstatOrNull(b)]);
  if (!sa || !sb) return false;
  if (sameInode(sa, sb)) return true;
  if (sa.isSymbolicLink() || sb.isSymbolicLink()) {
    return sa.isSymbolicLink() && sb.isSymbolicLink() && (await readlink(a)) === (await readlink(b));
  }
  if (!sa.isFile() || !sb.isFile() || sa.size !== sb.size) return false;
  const [ha, hb] = await Promise.all([sha256File(a), sha256File(b)]);
  return ha === hb;
}

export interface Expected {
  size?: number;
  /** Upper- or lower-case hex SHA-256 the source must have (the ledger's). */
  sha256?: string;
}

/**
 * Copies `from` to `temp` (created fresh), flushes it, restores mode and times (like Python's
 * copy2) and verifies it: the source's bytes must match the expected size and hash, and the copy
 * read back must hash the same. Symlinks are copied as symlinks.
 */
export async function copyVerified(from: string, temp: string, expected: Expected, context: FileOpContext): Promise<void> {
  await rm(temp, { force: true });
  await mkdir(path.dirname(temp), { recursive: true });
  const source = await lstat(from);
  if (source.isSymbolicLink()) {
    await symlink(await readlink(from), temp);
    return;
  }
  const hash = createHash('sha256');
  let size = 0;
  const input = await open(from, 'r');
  try {
    const output = await open(temp, 'wx', source.mode & 0o7777);
    try {
      const buffer = Buffer.allocUnsafe(context.chunkSize ?? DEFAULT_CHUNK);
      for (;;) {
        const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        const chunk = buffer.subarray(0, bytesRead);
        hash.update(chunk);
        let written = 0;
        while (written < chunk.length) {
          const { bytesWritten } = await output.write(chunk, written, chunk.length - written);
          written += bytesWritten;
        }
        size += bytesRead;
        context.step('copying', temp);
      }
      await output.sync();
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
  await chmod(temp, source.mode & 0o7777).catch(() => {});
  // Seconds as a float keep sub-millisecond precision (a Date would round to the millisecond).
  await utimes(temp, source.atimeMs / 1000, source.mtimeMs / 1000);
  const digest = hash.digest('hex').toUpperCase();
  if (expected.size !== undefined && size !== expected.size) {
    await rm(temp, { force: true });
    throw new OrganizeError('CHANGED', `${from} is ${size} bytes, expected ${expected.size}: it changed since it was scanned`);
  }
  if (expected.sha256 && digest !== expected.sha256.toUpperCase()) {
    await rm(temp, { force: true });
    throw new OrganizeError('CHANGED', `${from} no longer has the SHA-256 recorded for it: it changed since it was scanned`);
  }
  context.step('temp-written', temp);
  const copied = await sha256File(temp);
  if (copied !== digest) {
    await rm(temp, { force: true });
    throw new OrganizeError('VERIFY', `the copy of ${from} does not read back identical`);
  }
}

const NO_HARDLINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK', 'EACCES']);

/**
 * Puts `from` at `to`, never replacing anything at `to`.
 *
 * Same device: `link` + `unlink` (a rename that fails instead of silently replacing; between the
 * two both names point at one inode). Where hard links are not supported, a checked rename.
 * Across devices (EXDEV): copy to `temp` beside the target, fsync, verify size + SHA-256, rename
 * into place, then delete the source.
 *
 * `resume: true` accepts any state a previous interrupted call can have left: source gone and
 * target present = done; both present with the same inode or the same bytes = delete the source.
 */
export async function moveFile(
  from: string,
  to: string,
  temp: string,
  expected: Expected,
  context: FileOpContext,
  resume: boolean,
): Promise<'moved' | 'already'> {
  const source = await lstatOrNull(from);
  const target = await lstatOrNull(to);
  if (resume) {
    await rm(temp, { force: true });
    // Putting a file back (undo, rollback) recreates a folder someone removed meanwhile.
    if (source && !target) await mkdir(path.dirname(to), { recursive: true });
  }
  if (!source) {
    if (target && resume) return 'already';
    throw new OrganizeError('MISSING', `${from} is missing`);
  }
  if (target) {
    if (resume && (sameInode(source, target) || (await sameContent(from, to)))) {
      await removeSource(from, context);
      return 'moved';
    }
    throw new OrganizeError('EXISTS', `${to} already exists`);
  }
  if (!context.forceCrossDevice) {
    try {
      if (source.isSymbolicLink()) {
        // link() may follow a symlink on some systems; a checked rename keeps it a symlink.
        await renameChecked(from, to);
        return 'moved';
      }
      await link(from, to);
      await fsyncDir(path.dirname(to));
      context.step('linked', to);
      await removeSource(from, context);
      return 'moved';
    } catch (error) {
      if (isCode(error, 'EEXIST')) throw new OrganizeError('EXISTS', `${to} already exists`);
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (code !== 'EXDEV' && !NO_HARDLINKS.has(code)) throw error;
      if (code !== 'EXDEV') {
        await renameChecked(from, to);
        return 'moved';
      }
    }
  }
  await copyVerified(from, temp, expected, context);
  await placeTemp(temp, to, context);
  await removeSource(from, context);
  return 'moved';
}

async function renameChecked(from: string, to: string): Promise<void> {
  if (await lstatOrNull(to)) throw new OrganizeError('EXISTS', `${to} already exists`);
  await rename(from, to);
  await fsyncDir(path.dirname(to));
  if (path.dirname(to) !== path.dirname(from)) await fsyncDir(path.dirname(from));
}

/** Renames a verified temporary copy to its final name, refusing to replace anything there. */
export async function placeTemp(temp: string, to: string, context: FileOpContext): Promise<void> {
  if (await lstatOrNull(to)) {
    await rm(temp, { force: true });
    throw new OrganizeError('EXISTS', `${to} already exists`);
  }
  await rename(temp, to);
  await fsyncDir(path.dirname(to));
  context.step('placed', to);
}

async function removeSource(from: string, context: FileOpContext): Promise<void> {
  await unlink(from);
  await fsyncDir(path.dirname(from));
  context.step('source-removed', from);
}

/** Creates one directory level; `created: false` when it was already there. */
export async function ensureDir(dir: string): Promise<{ created: boolean }> {
  try {
    await mkdir(dir);
    await fsyncDir(path.dirname(dir));
    return { created: true };
  } catch (error) {
    if (isCode(error, 'EEXIST')) {
      const stats = await lstat(dir);
      if (stats.isDirectory()) return { created: false };
      throw new OrganizeError('BLOCKED', `${dir} exists and is not a folder`);
    }
    throw error;
  }
}

/** Removes a directory if it is empty; leaves it (and says so) otherwise. */
export async function removeDirIfEmpty(dir: string): Promise<'removed' | 'absent' | 'kept'> {
  try {
    await rmdir(dir);
    await fsyncDir(path.dirname(dir));
    return 'removed';
  } catch (error) {
    if (isCode(error, 'ENOENT')) return 'absent';
    if (isCode(error, 'ENOTEMPTY') || isCode(error, 'EEXIST') || isCode(error, 'ENOTDIR')) return 'kept';
    throw error;
  }
}

export async function unlinkAndSync(file: string): Promise<void> {
  await unlink(file);
  await fsyncDir(path.dirname(file));
}

export { link, readlink, symlink };
