/**
 * The journaled operations. Every operation can be run forward and (for organize runs) reversed;
 * both directions look at the disk first, so running one twice, or after a crash in its middle,
 * is safe.
 */
import { lstat, readlink, rm, symlink, link } from 'node:fs/promises';
import path from 'node:path';
import {
  copyVerified,
  ensureDir,
  fsyncDir,
  lstatOrNull,
  moveFile,
  OrganizeError,
  placeTemp,
  removeDirIfEmpty,
  sameContent,
  sameInode,
  unlinkAndSync,
  isCode,
  type FileOpContext,
} from './fsops.ts';

export type Op =
  | { kind: 'mkdir'; path: string }
  | { kind: 'rmdir'; path: string }
  /** `trash: true` = an overwritten target set aside (reverse restores it; completion deletes it). */
  | { kind: 'move'; from: string; to: string; temp: string; size?: number; sha256?: string; trash?: boolean }
  | { kind: 'copy'; from: string; to: string; temp: string; size?: number; sha256?: string }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'hardlink'; from: string; to: string }
  /** Undo of a copy: delete `copy` if it still holds the bytes of `original`. */
  | { kind: 'uncopy'; original: string; copy: string; size?: number; mtimeMs?: number }
  | { kind: 'unsymlink'; path: string; target: string }
  | { kind: 'unhardlink'; original: string; link: string };

export type OpKind = Op['kind'];

/** What a finished operation reports into its `done` journal line (needed to undo it later). */
export interface OpResult {
  created?: boolean;
  already?: boolean;
  size?: number;
  mtimeMs?: number;
  kept?: boolean;
}

export async function runForward(op: Op, context: FileOpContext, resume: boolean): Promise<OpResult> {
  switch (op.kind) {
    case 'mkdir':
      return ensureDir(op.path);
    case 'rmdir':
      return { kept: (await removeDirIfEmpty(op.path)) === 'kept' };
    case 'move': {
      const outcome = await moveFile(op.from, op.to, op.temp, { size: op.size, sha256: op.sha256 }, context, resume);
      return { already: outcome === 'already' };
    }
    case 'copy':
      return copyForward(op, context, resume);
    case 'symlink': {
      const existing = await lstatOrNull(op.path);
      if (existing) {
        if (existing.isSymbolicLink() && (await readlink(op.path)) === op.target) return { already: true };
        throw new OrganizeError('EXISTS', `${op.path} already exists`);
      }
      try {
        await symlink(op.target, op.path);
      } catch (error) {
        if (isCode(error, 'EEXIST')) throw new OrganizeError('EXISTS', `${op.path} already exists`);
        throw error;
      }
      await fsyncDir(path.dirname(op.path));
      return {};
    }
    case 'hardlink': {
      const [source, existing] = await Promise.all([lstatOrNull(op.from), lstatOrNull(op.to)]);
      if (!source) throw new OrganizeError('MISSING', `${op.from} is missing`);
      if (existing) {
        if (sameInode(source, existing)) return { already: true };
        throw new OrganizeError('EXISTS', `${op.to} already exists`);
      }
      try {
        await link(op.from, op.to);
      } catch (error) {
        if (isCode(error, 'EXDEV')) {
          throw new OrganizeError('EXDEV', `cannot hard-link ${op.from} into ${path.dirname(op.to)}: different devices (use copy or symlink)`);
        }
        if (isCode(error, 'EEXIST')) throw new OrganizeError('EXISTS', `${op.to} already exists`);
        throw error;
      }
      await fsyncDir(path.dirname(op.to));
      return {};
    }
    case 'uncopy': {
      const copy = await lstatOrNull(op.copy);
      if (!copy) return { already: true };
      const original = await lstatOrNull(op.original);
      if (!original) throw new OrganizeError('KEPT', `kept ${op.copy}: the original ${op.original} is gone, so it is the only copy`);
      const untouched =
        op.size !== undefined && op.mtimeMs !== undefined && copy.isFile() && Number(copy.size) === op.size && Number(copy.mtimeMs) === op.mtimeMs && Number(original.size) === op.size;
      if (!untouched && !(await sameContent(op.original, op.copy))) {
        throw new OrganizeError('KEPT', `kept ${op.copy}: it no longer matches ${op.original}`);
      }
      await unlinkAndSync(op.copy);
      return {};
    }
    case 'unsymlink': {
      const existing = await lstatOrNull(op.path);
      if (!existing) return { already: true };
      if (!existing.isSymbolicLink() || (await readlink(op.path)) !== op.target) {
        throw new OrganizeError('KEPT', `kept ${op.path}: it is no longer the link this run made`);
      }
      await unlinkAndSync(op.path);
      return {};
    }
    case 'unhardlink': {
      const [original, linked] = await Promise.all([lstatOrNull(op.original), lstatOrNull(op.link)]);
      if (!linked) return { already: true };
      if (!original || !sameInode(original, linked)) {
        throw new OrganizeError('KEPT', `kept ${op.link}: it is no longer a second name of ${op.original}`);
      }
      await unlinkAndSync(op.link);
      return {};
    }
  }
}

async function copyForward(op: Extract<Op, { kind: 'copy' }>, context: FileOpContext, resume: boolean): Promise<OpResult> {
  if (resume) await rm(op.temp, { force: true });
  if (await lstatOrNull(op.to)) {
    if (resume && (await sameContent(op.from, op.to))) return { already: true, ...(await sizeAndTime(op.to)) };
    throw new OrganizeError('EXISTS', `${op.to} already exists`);
  }
  await copyVerified(op.from, op.temp, { size: op.size, sha256: op.sha256 }, context);
  await placeTemp(op.temp, op.to, context);
  return sizeAndTime(op.to);
}

async function sizeAndTime(file: string): Promise<{ size: number; mtimeMs: number }> {
  const stats = await lstat(file, { bigint: true });
  return { size: Number(stats.size), mtimeMs: Number(stats.mtimeMs) };
}

/** The operation that reverses `op` (for undo, and for rolling back an interrupted run). */
export function inverseOf(op: Op, result: OpResult | undefined, reverseTemp: string): Op | undefined {
  switch (op.kind) {
    case 'mkdir':
      return result?.created === false ? undefined : { kind: 'rmdir', path: op.path };
    case 'move':
      return { kind: 'move', from: op.to, to: op.from, temp: reverseTemp, size: op.size, sha256: op.sha256, trash: op.trash };
    case 'copy':
      return { kind: 'uncopy', original: op.from, copy: op.to, size: result?.size, mtimeMs: result?.mtimeMs };
    case 'symlink':
      return { kind: 'unsymlink', path: op.path, target: op.target };
    case 'hardlink':
      return { kind: 'unhardlink', original: op.from, link: op.to };
    default:
      // Undo runs are finished, never reversed.
      return undefined;
  }
}

/** Temporary files an interrupted operation may have left (never the only copy of anything). */
export function tempsOf(op: Op): string[] {
  return op.kind === 'move' || op.kind === 'copy' ? [op.temp] : [];
}
