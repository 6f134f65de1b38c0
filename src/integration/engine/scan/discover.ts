import { readdir, realpath, stat } from 'node:fs/promises';
import { Stats, type Dirent } from 'node:fs';
import path from 'node:path';
import type { InputPath } from '../config/schema.ts';
import type { LocalFile } from '../records/schema.ts';
import { OPEN_FILES_LIMIT } from './safetensors.ts';
import { createStatter, type StatOutcome } from './stat-many.ts';

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
  /**
   * Every folder read in full, with the hidden `*.tmp` names in it (interrupted writes leave
   * `.<name>.<id>.tmp`): the end of the run sweeps those without reading the folders again.
   */
  listings: Map<string, string[]>;
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
  const listings = new Map<string, string[]>();
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
    const matchers = input.patterns.map((pattern) => compilePattern(pattern.toLowerCase()));
    const byRelative = matchers.some((matcher) => matcher.relative);
    const recursive = options.recursive ?? input.recursive;
    const visitedFolders = new Set<string>([await realpath(root)]);
    const statter = createStatter();
    const listing = createReadAhead();

    /** `relative`: the folder below the input root, POSIX-style ('' for the root itself). */
    const walk = async (folder: string, relative: string): Promise<void> => {
      const read = await listing.take(folder);
      if (read instanceof Error) {
        problems.push({ path: folder, stage: 'discover', message: describeFsError(read, 'folder') });
        return;
      }
      const entries = read;
      // `folder` is absolute and normalised, and a name has no separator: concatenation gives
      // what path.join would, without normalising each of 150,000 paths again.
      const prefix = folder.endsWith(path.sep) ? folder : folder + path.sep;
      const candidates: Candidate[] = [];
      const toStat: string[] = [];
      const temps: string[] = [];
      listings.set(folder, temps);
      for (const entry of entries) {
        const name = entry.name;
        if (name.startsWith('.')) {
          if (name.endsWith('.tmp')) temps.push(name);
          continue;
        }
        const isDir = entry.isDirectory();
        const isLink = entry.isSymbolicLink();
        if (isDir) {
          candidates.push({ name, full: compact(prefix + name), isDir, isLink, matches: false, stat: -1 });
          continue;
        }
        const lowerName = name.toLowerCase();
        const lowerRelative = byRelative ? (relative ? `${relative}/${name}` : name).toLowerCase() : lowerName;
        const matches = matchers.some((matcher) => matcher.test(matcher.relative ? lowerRelative : lowerName));
        // Most names in a model folder are our sidecars and previews: no path made for them.
        if (!matches && !isLink) continue;
        const full = compact(prefix + name);
        // stat follows a symlink, so one call tells both where it leads and what the file is.
        const statted = isLink || !name.includes('\uFFFD');
        candidates.push({ name, full, isDir, isLink, matches, stat: statted ? toStat.length : -1 });
        if (statted) toStat.push(full);
      }
      // Sorted so runs, reports and page order are reproducible; only what is kept (most names
      // in a model folder are our sidecars and previews: sorting them all was six times the work).
      candidates.sort(byName);
      temps.sort();
      // The folders below are walked next, in this order: their listings are read meanwhile.
      const walked = ({ name, full }: Candidate) => recursive && !name.includes('\uFFFD') && !excluded.has(full);
      listing.ahead(candidates.filter((candidate) => candidate.isDir && walked(candidate)).map(({ full }) => full));
      const outcomes = await statter(toStat);
      for (const candidate of candidates) {
        const { name, full, isDir, isLink, matches, stat: statIndex } = candidate;
        const relativePath = relative ? `${relative}/${name}` : name;
        if (isDir) {
          if (name.includes('\uFFFD')) {
            problems.push({ path: full, stage: 'discover', message: 'the folder name is not valid UTF-8; rename the folder to scan it' });
            continue;
          }
          if (walked(candidate)) await walk(full, relativePath);
          continue;
        }
        const outcome: StatOutcome = statIndex >= 0 ? outcomes[statIndex] : undefined;
        if (isLink) {
          const target = outcome;
          if (!(target instanceof Stats)) {
            if (matches) {
              const message = target instanceof Error && target.code === 'ELOOP' ? 'symlink loop' : 'broken symlink (its target does not exist)';
              problems.push({ path: full, stage: 'discover', message });
            }
            continue;
          }
          if (target.isDirectory()) {
            if (!recursive || excluded.has(full)) continue;
            const real = await realpath(full);
            if (visitedFolders.has(real)) continue;
            visitedFolders.add(real);
            await walk(full, relativePath);
            continue;
          }
        }
        if (!matches) continue;
        if (name.includes('\uFFFD')) {
          // Node reads names as UTF-8; a name in another encoding cannot be opened by it.
          problems.push({ path: full, stage: 'discover', message: 'the file name is not valid UTF-8; rename the file to read it' });
          continue;
        }
        const fileStats = outcome;
        if (!(fileStats instanceof Stats)) {
          const error = fileStats ?? Object.assign(new Error('no such file'), { code: 'ENOENT' });
          problems.push({ path: full, stage: 'discover', message: describeFsError(error, 'file') });
          continue;
        }
        if (!fileStats.isFile()) {
          // A FIFO would block the reader forever; a socket or device is no model either.
          problems.push({ path: full, stage: 'discover', message: 'not a regular file (a pipe, socket or device named like a model); skipped' });
          continue;
        }
        if (seen.has(full)) continue;
        seen.add(full);
        files.push(toDiscoveredFile(full, root, id, input.type, fileStats, relativePath, { name, folder: relative }));
      }
    };
    await walk(root, '');
  }
  return { files, problems, listings };
}

/**
 * Folders read ahead of the walk (being read, or read and not walked yet). Small folders: as
 * many as the thread pool reads at once, so their round trips overlap. Big ones (a model folder
 * of 500 models has about 3,000 names): one, which already hides its read behind the walk's work
 * on the folder before; every listing held is thousands of Dirents that outlive a young-generation
 * collection (discovery alone over 101 such folders, paired runs: 4 ahead held 25 MB more and
 * took a few % more CPU than 1, for no less time).
 */
const READ_AHEAD_SMALL = Math.min(OPEN_FILES_LIMIT, 4);
const READ_AHEAD_BIG = 1;
const BIG_FOLDER_ENTRIES = 512;

interface ReadAhead {
  /** Folders the walk enters next, in the order it enters them (before any folder given earlier). */
  ahead(folders: readonly string[]): void;
  /** The folder's entries (read ahead or now), or why it cannot be read. */
  take(folder: string): Promise<Dirent[] | NodeJS.ErrnoException>;
}

/**
 * Reads folders' listings before the walk gets to them. The walk waited for each folder's
 * readdir (a thread-pool round trip) before it could sort and stat the next one; now those
 * waits overlap with its work on the folder before. The walk itself is unchanged, so the order
 * of files and problems is too. Folders wanted are a stack (the walk is depth first: a folder's
 * subfolders come before the siblings it was given with).
 */
function createReadAhead(): ReadAhead {
  const wanted: string[] = [];
  const reading = new Map<string, Promise<Dirent[] | NodeJS.ErrnoException>>();
  const taken = new Set<string>();
  let lastEntries = 0;
  // One call per folder (an async iterator costs a promise per entry: 150,000 of them in a large
  // library); the names come back whole, so a folder is read with one descriptor.
  const read = (folder: string) =>
    readdir(folder, { withFileTypes: true }).then(
      (entries) => {
        lastEntries = entries.length;
        return entries;
      },
      (error: NodeJS.ErrnoException) => error,
    );
  const pump = () => {
    const limit = lastEntries > BIG_FOLDER_ENTRIES ? READ_AHEAD_BIG : READ_AHEAD_SMALL;
    while (reading.size < limit && wanted.length > 0) {
      const folder = wanted.pop() as string;
      if (taken.has(folder) || reading.has(folder)) continue;
      reading.set(folder, read(folder));
    }
  };
  return {
    ahead(folders) {
      for (let index = folders.length - 1; index >= 0; index -= 1) wanted.push(folders[index] as string);
      pump();
    },
    take(folder) {
      const early = reading.get(folder);
      reading.delete(folder);
      taken.add(folder);
      pump();
      return early ?? read(folder);
    },
  };
}

interface Candidate {
  name: string;
  full: string;
  isDir: boolean;
  isLink: boolean;
  matches: boolean;
  /** Its place in the folder's batch of stats; -1 when it is not stat'ed. */
  stat: number;
}

export function toDiscoveredFile(
  full: string,
  root: string,
  inputPathId: string,
  inputType: string,
  fileStats: Stats,
  /** `full` relative to `root`, POSIX-style, when the caller knows it already. */
  known?: string,
  /** The file's name and its folder's relative path ('' for the root), when the caller knows them. */
  parts?: { name: string; folder: string },
): DiscoveredFile {
  const relativePath = compact(known ?? toPosix(path.relative(root, full)));
  const name = parts?.name ?? path.basename(compact(full));
  const ext = path.extname(name);
  const folder = parts ? parts.folder : toPosix(path.dirname(relativePath));
  return {
    path: full,
    inputPathId,
    inputType,
    relativePath,
    folder: folder === '.' ? '' : compact(folder),
    name,
    stem: ext ? name.slice(0, -ext.length) : name,
    ext: intern(ext.toLowerCase()),
    size: fileStats.size,
    mtimeMs: fileStats.mtimeMs,
    dev: fileStats.dev,
    ino: fileStats.ino,
  };
}

/**
 * `value`, stored flat. V8 keeps a string built by concatenation (path.join, template literals)
 * as a tree of its parts, 32 bytes a node plus every part, until something reads it by index:
 * a path is then several times its length, and a run holds several per file (1.5 KB a file,
 * 75 MB over 50,000). Reading one character flattens it; the garbage collector drops the tree.
 */
export function compact(value: string): string {
  value.charCodeAt(0);
  return value;
}

const interned = new Map<string, string>();

/**
 * One string for a short value that recurs in every file's data (an extension, a key name):
 * a run over 50,000 files would otherwise hold 50,000 copies. Only the first few hundred
 * distinct values are kept.
 */
export function intern(value: string): string {
  const known = interned.get(value);
  if (known !== undefined) return known;
  if (interned.size < 256) interned.set(value, value);
  return value;
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

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

interface PatternMatcher {
  /** Matched against the path relative to the input root (the pattern has a `/`), else the name. */
  relative: boolean;
  test(value: string): boolean;
}

/**
 * A lower-cased pattern as a test. `*.safetensors` and its kind (a star and a plain suffix) are
 * a suffix test: path.matchesGlob parses its pattern on every call, which over the 150,000
 * names of a large library (models and their sidecars) took most of a second.
 */
function compilePattern(pattern: string): PatternMatcher {
  const relative = pattern.includes('/');
  const suffix = relative ? undefined : /^\*([\w. -]*)$/.exec(pattern)?.[1];
  if (suffix !== undefined) return { relative, test: (value) => value.endsWith(suffix) };
  return { relative, test: (value) => path.matchesGlob(value, pattern) };
}
