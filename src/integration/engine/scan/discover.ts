import { opendir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import type { InputPath } from '../config/schema.ts';
import type { LocalFile } from '../records/schema.ts';
import { mapLimit } from '../util/map-limit.ts';
import { OPEN_FILES_LIMIT } from './safetensors.ts';

export interface DiscoveredFile extends LocalFile {
  /** Device and inode: the file's identity across renames (used by the hash ledger). */
  dev: number;
  ino: number;
}

export interface DiscoveryProblem {
  path: string;
  stage: 'discover';
  message: string;
}

export interface DiscoveryResult {
  files: DiscoveredFile[];
  problems: DiscoveryProblem[];
}

export interface DiscoverOptions {
  /** Overrides every input path's own `recursive` (a job's `recursive` key). */
  recursive?: boolean;
  /** Absolute folders never descended into (e.g. our cache, the organize output). */
  exclude?: string[];
}

/**
 * Finds the model files of the given input paths. Patterns match the file name (or the path
 * relative to the input root when they contain a `/`), case-insensitively, because model
 * downloads come as `.safetensors`, `.SafeTensors` and `.SAFETENSORS` alike. Hidden files and
 * folders are skipped, symlinked folders are followed once (loops are detected), and a file
 * reachable from two input paths is reported once.
 */
export async function discoverModelFiles(
  inputPaths: Record<string, InputPath>,
  ids: readonly string[],
  options: DiscoverOptions = {},
): Promise<DiscoveryResult> {
  const files: DiscoveredFile[] = [];
  const problems: DiscoveryProblem[] = [];
  const seen = new Set<string>();
  const excluded = new Set((options.exclude ?? []).map((folder) => path.resolve(folder)));

  for (const id of ids) {
    const input = inputPaths[id];
    if (!input) continue;
    const root = path.resolve(input.path);
    const rootStats = await stat(root).catch((error: NodeJS.ErrnoException) => error);
    if (rootStats instanceof Error) {
      problems.push({ path: root, stage: 'discover', message: describeFsError(rootStats, `input path "${id}"`) });
      continue;
    }
    if (!rootStats.isDirectory()) {
      problems.push({ path: root, stage: 'discover', message: `input path "${id}" is not a folder` });
      continue;
    }
    const patterns = input.patterns.map((pattern) => pattern.toLowerCase());
    const recursive = options.recursive ?? input.recursive;
    const visitedFolders = new Set<string>([await realpath(root)]);

    const walk = async (folder: string): Promise<void> => {
      let entries;
      try {
        entries = await opendir(folder);
      } catch (error) {
        problems.push({ path: folder, stage: 'discover', message: describeFsError(error as NodeJS.ErrnoException, 'folder') });
        return;
      }
      const names: { name: string; isDir: boolean; isLink: boolean }[] = [];
      for await (const entry of entries) {
        names.push({ name: entry.name, isDir: entry.isDirectory(), isLink: entry.isSymbolicLink() });
      }
      // Sorted so runs, reports and page order are reproducible.
      names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const candidates: { name: string; full: string; isDir: boolean; isLink: boolean; matches: boolean }[] = [];
      for (const { name, isDir, isLink } of names) {
        if (name.startsWith('.')) continue;
        const full = path.join(folder, name);
        if (isDir) {
          candidates.push({ name, full, isDir, isLink, matches: false });
          continue;
        }
        const relativePath = toPosix(path.relative(root, full));
        const lowerName = name.toLowerCase();
        const lowerRelative = relativePath.toLowerCase();
        const matches = patterns.some((pattern) =>
          path.matchesGlob(pattern.includes('/') ? lowerRelative : lowerName, pattern),
        );
        if (matches || isLink) candidates.push({ name, full, isDir, isLink, matches });
      }
      // A folder of thousands of models is stat'ed a bounded number at a time (stat follows a
      // symlink, so one call tells both where it leads and what the file is).
      const stats = new Map<string, Stats | NodeJS.ErrnoException>();
      await mapLimit(
        candidates.filter((entry) => !entry.isDir && !(entry.matches && !entry.isLink && entry.name.includes('\uFFFD'))),
        OPEN_FILES_LIMIT,
        async (entry) => {
          stats.set(entry.full, await stat(entry.full).catch((error: NodeJS.ErrnoException) => error));
        },
      );
      for (const { name, full, isDir, isLink, matches } of candidates) {
        if (isDir) {
          if (name.includes('\uFFFD')) {
            problems.push({ path: full, stage: 'discover', message: 'the folder name is not valid UTF-8; rename the folder to scan it' });
            continue;
          }
          if (recursive && !excluded.has(full)) await walk(full);
          continue;
        }
        if (isLink) {
          const target = stats.get(full) as Stats | NodeJS.ErrnoException;
          if (target instanceof Error) {
            if (matches) {
              const message = target.code === 'ELOOP' ? 'symlink loop' : 'broken symlink (its target does not exist)';
              problems.push({ path: full, stage: 'discover', message });
            }
            continue;
          }
          if (target.isDirectory()) {
            if (!recursive || excluded.has(full)) continue;
            const real = await realpath(full);
            if (visitedFolders.has(real)) continue;
            visitedFolders.add(real);
            await walk(full);
            continue;
          }
        }
        if (!matches) continue;
        if (name.includes('\uFFFD')) {
          // Node reads names as UTF-8; a name in another encoding cannot be opened by it.
          problems.push({ path: full, stage: 'discover', message: 'the file name is not valid UTF-8; rename the file to read it' });
          continue;
        }
        const fileStats = stats.get(full) as Stats | NodeJS.ErrnoException;
        if (fileStats instanceof Error) {
          problems.push({ path: full, stage: 'discover', message: describeFsError(fileStats, 'file') });
          continue;
        }
        if (!fileStats.isFile()) {
          // A FIFO would block the reader forever; a socket or device is no model either.
          problems.push({ path: full, stage: 'discover', message: 'not a regular file (a pipe, socket or device named like a model); skipped' });
          continue;
        }
        if (seen.has(full)) continue;
        seen.add(full);
        files.push(toDiscoveredFile(full, root, id, input.type, fileStats));
      }
    };
    await walk(root);
  }
  return { files, problems };
}

export function toDiscoveredFile(
  full: string,
  root: string,
  inputPathId: string,
  inputType: string,
  fileStats: Stats,
): DiscoveredFile {
  const relativePath = toPosix(path.relative(root, full));
  const name = path.basename(full);
  const ext = path.extname(name);
  const folder = toPosix(path.dirname(relativePath));
  return {
    path: full,
    inputPathId,
    inputType,
    relativePath,
    folder: folder === '.' ? '' : folder,
    name,
    stem: ext ? name.slice(0, -ext.length) : name,
    ext: ext.toLowerCase(),
    size: fileStats.size,
    mtimeMs: fileStats.mtimeMs,
    dev: fileStats.dev,
    ino: fileStats.ino,
  };
}

export function toPosix(value: string): string {
  return value.split(path.sep).join('/');
}

export function describeFsError(error: NodeJS.ErrnoException, what: string): string {
  switch (error.code) {
    case 'ENOENT':
      return `${what} does not exist`;
    case 'EACCES':
    case 'EPERM':
      return `${what} cannot be read (permission denied)`;
    case 'ELOOP':
      return `${what} is a symlink loop`;
    default:
      return `${what} cannot be read: ${error.message}`;
  }
}
