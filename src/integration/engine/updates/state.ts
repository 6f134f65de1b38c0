/**
 * `scanner.cache_dir/updates.json`: the versions ignored with `civitscraper updates --ignore`,
 * and the answers of the last update check (each model's versions as `VersionFacts`, with when
 * CivitAI gave them). Scans read it, so the gallery shows what the last check found; only the
 * `updates` command writes it, atomically, under the cache lock. A model whose check failed
 * keeps its previous entry: a failed check never clears a known update.
 */
import { access, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../util/logger.ts';
import { toJsonText, writeFileAtomic } from '../util/atomic-write.ts';
import { UpdateStateSchema, type UpdateState } from './schema.ts';

export const UPDATES_FILE_NAME = 'updates.json';

export function updatesPath(cacheDir: string): string {
  return path.join(path.resolve(cacheDir), UPDATES_FILE_NAME);
}

export function emptyUpdateState(): UpdateState {
  return { format: 1, ignore: [], models: {} };
}

export interface ReadUpdateStateOptions {
  /**
   * What becomes of a file that cannot be used (bad JSON, another shape, unreadable). It is
   * never written over: it holds the user's `--ignore` list, which nothing else has.
   * - `keep` (default): left as it is, with a warning; for readers without the cache lock and
   *   dry runs, which must not move files.
   * - `set-aside`: renamed to `updates.json.damaged-<time>` (readers under the cache lock: a
   *   scan); if that fails, a warning and the reader goes on.
   * - `before-write`: the same, but a rename that fails throws, since the caller is about to
   *   write the file and would destroy it.
   */
  damaged?: 'keep' | 'set-aside' | 'before-write';
  /** Epoch ms for the set-aside name (tests). */
  now?: number;
}

/** updates.json is damaged and could not be moved aside, so it is not written over. */
export class UpdateStateDamagedError extends Error {
  override name = 'UpdateStateDamagedError';
}

/**
 * Warned about once per process and content when kept: a CLI command reads the file several
 * times (each job's scan, the check, the save), and one warning says it all.
 */
const warnedKept = new Set<string>();

/**
 * The stored state; a missing file is an empty one. A file that cannot be used is reported and
 * treated as empty (the scan that reads it is never stopped by it), and set aside first when
 * `options.damaged` says so, so the next write does not lose the ignored versions it holds.
 */
export async function readUpdateState(cacheDir: string, logger?: Logger, options: ReadUpdateStateOptions = {}): Promise<UpdateState> {
  const file = updatesPath(cacheDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyUpdateState();
    return damaged(file, `cannot be read (${(error as Error).message})`, logger, options);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return damaged(file, 'is not valid JSON', logger, options);
  }
  const parsed = UpdateStateSchema.safeParse(raw);
  if (!parsed.success) return damaged(file, `has an unexpected shape (${parsed.error.issues[0]?.message ?? 'invalid'})`, logger, options);
  return parsed.data;
}

async function damaged(file: string, why: string, logger: Logger | undefined, options: ReadUpdateStateOptions): Promise<UpdateState> {
  const mode = options.damaged ?? 'keep';
  if (mode === 'keep') {
    const seen = await stat(file).then((info) => `${file}\0${info.size}\0${info.mtimeMs}`, () => file);
    const message =
      `updates: ${file} ${why}; going on without it (its ignored versions and last answers are not used). ` +
      'It is left as it is; the next scan or `civitscraper updates` that writes it moves it aside first';
    if (warnedKept.has(seen)) logger?.debug(message);
    else logger?.warn(message);
    warnedKept.add(seen);
    return emptyUpdateState();
  }
  let aside: string;
  try {
    aside = await setAside(file, options.now ?? Date.now());
  } catch (error) {
    const message =
      `updates: ${file} ${why}, and it could not be moved aside (${(error as Error).message}). ` +
      'Nothing was written over it: move it away (or fix it), then run again';
    if (mode === 'before-write') throw new UpdateStateDamagedError(message);
    logger?.warn(message);
    return emptyUpdateState();
  }
  logger?.warn(
    `updates: ${file} ${why}; moved it to ${aside} and started an empty one. ` +
      'The versions ignored with --ignore are listed in that file: ignore them again (or repair the file and put it back)',
  );
  return emptyUpdateState();
}

/** Renames `file` to `<file>.damaged-<time>` (never over an earlier one); the new name. */
async function setAside(file: string, at: number): Promise<string> {
  const stamp = new Date(at).toISOString().replace(/[:.]/g, '-');
  for (let attempt = 0; ; attempt += 1) {
    const aside = `${file}.damaged-${stamp}${attempt > 0 ? `-${attempt}` : ''}`;
    const taken = await access(aside).then(() => true, () => false);
    if (taken) continue;
    await rename(file, aside);
    return aside;
  }
}

export async function writeUpdateState(cacheDir: string, state: UpdateState): Promise<void> {
  const models = Object.fromEntries(Object.entries(state.models).sort(([a], [b]) => Number(a) - Number(b)));
  await writeFileAtomic(updatesPath(cacheDir), toJsonText({ format: 1, ignore: [...new Set(state.ignore)].sort((a, b) => a - b), models }));
}
