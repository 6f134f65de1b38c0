/**
 * Model files that are gone since the last site run: a network share offline, an unplugged
 * disk, a file deleted. Their entries are kept, flagged `missing` (with the time the site first
 * missed them), for `site.missing_grace_days`, then dropped; 0 drops them at once. The engine
 * never deletes a sidecar or a preview for a file it does not find, so a file that comes back
 * is shown as before without a lookup.
 *
 * Not missing: a file whose bytes are still in the library under another path (renamed, or moved
 * by hand), a file `civitscraper organize` moved (its journal says so), a file that is still on
 * disk but no longer scanned (its input path was removed from the job, its pattern changed), and
 * a file replaced by a changed one at the same path.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { listRuns } from '../engine/organize/journal.ts';
import type { SiteEntry } from './sync.ts';

const DAY = 86_400_000;

export interface CarryOptions {
  /** Epoch ms of this run. */
  now: number;
  graceDays: number;
  /** Input path ids this run scanned: an entry of another input path is not missing, it is not asked for. */
  inputs: ReadonlySet<string>;
  /** Whether a file is on disk now. */
  exists: (file: string) => boolean;
  /** Paths `civitscraper organize` moved away from (the organize journal). */
  movedAway: ReadonlySet<string>;
}

/**
 * The entries of this run plus the missing ones of the last run still within their grace period.
 * `previous` is what the last run wrote (its missing entries keep their first `since`).
 */
export function carryMissing(previous: readonly SiteEntry[], current: readonly SiteEntry[], options: CarryOptions): SiteEntry[] {
  if (options.graceDays <= 0 || previous.length === 0) return [...current];
  const ids = new Set(current.map((entry) => entry.id));
  const paths = new Set(current.map((entry) => entry.data.file.path));
  const contents = new Set(current.flatMap((entry) => (entry.data.hashes.SHA256 ? [entry.data.hashes.SHA256.toUpperCase()] : [])));
  const kept: SiteEntry[] = [];
  for (const entry of previous) {
    const file = entry.data.file;
    if (ids.has(entry.id) || paths.has(file.path)) continue;
    if (!options.inputs.has(file.inputPathId)) continue;
    const sha = entry.data.hashes.SHA256?.toUpperCase();
    if (sha && contents.has(sha)) continue;
    if (options.movedAway.has(path.resolve(file.path))) continue;
    if (options.exists(file.path)) continue;
    const since = entry.missing?.since ?? new Date(options.now).toISOString();
    const sinceMs = Date.parse(since);
    if (Number.isFinite(sinceMs) && options.now - sinceMs > options.graceDays * DAY) continue;
    kept.push({ ...entry, missing: { since: Number.isFinite(sinceMs) ? since : new Date(options.now).toISOString() } });
  }
  return kept.length ? [...current, ...kept] : [...current];
}

/** Whether a path exists (a broken symlink counts as gone). */
export function fileExists(file: string): boolean {
  return existsSync(file);
}

/**
 * Model files `civitscraper organize` moved (move mode, not undone), from its journal in the
 * cache folder. A damaged journal moves nothing here: the organize command reports it.
 */
export async function organizeMovedPaths(cacheDir: string): Promise<Set<string>> {
  const moved = new Set<string>();
  let runs;
  try {
    runs = await listRuns(path.join(path.resolve(cacheDir), 'organize-journal'));
  } catch {
    return moved;
  }
  for (const run of runs) {
    if (run.begin.kind !== 'organize' || run.rolledBack) continue;
    for (const state of run.ops) {
      if (state.op.kind === 'move' && state.done && !state.reverted) moved.add(path.resolve(state.op.from));
    }
  }
  return moved;
}
