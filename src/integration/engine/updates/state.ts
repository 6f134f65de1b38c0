/**
 * `scanner.cache_dir/updates.json`: the versions ignored with `civitscraper updates --ignore`,
 * and the answers of the last update check (each model's versions as `VersionFacts`, with when
 * CivitAI gave them). Scans read it, so the gallery shows what the last check found; only the
 * `updates` command writes it, atomically, under the cache lock. A model whose check failed
 * keeps its previous entry: a failed check never clears a known update.
 */
import { readFile } from 'node:fs/promises';
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

/**
 * The stored state; a missing file is an empty one. A file that cannot be used (bad JSON,
 * another shape) is reported and treated as empty: the next check writes a good one, and the
 * scan that reads it is never stopped by it.
 */
export async function readUpdateState(cacheDir: string, logger?: Logger): Promise<UpdateState> {
  const file = updatesPath(cacheDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') logger?.warn(`updates: ${file} cannot be read (${(error as Error).message}); going on without it`);
    return emptyUpdateState();
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    logger?.warn(`updates: ${file} is not valid JSON; going on without it (the next \`civitscraper updates\` writes it again; ignored versions must be ignored again)`);
    return emptyUpdateState();
  }
  const parsed = UpdateStateSchema.safeParse(raw);
  if (!parsed.success) {
    logger?.warn(`updates: ${file} has an unexpected shape (${parsed.error.issues[0]?.message ?? 'invalid'}); going on without it`);
    return emptyUpdateState();
  }
  return parsed.data;
}

export async function writeUpdateState(cacheDir: string, state: UpdateState): Promise<void> {
  const models = Object.fromEntries(Object.entries(state.models).sort(([a], [b]) => Number(a) - Number(b)));
  await writeFileAtomic(updatesPath(cacheDir), toJsonText({ format: 1, ignore: [...new Set(state.ignore)].sort((a, b) => a - b), models }));
}
