import path from 'node:path';
import type { ModelVersion } from '../civitai/schemas.ts';
import type { ModelRecord } from '../records/schema.ts';
import type { RunContext, WorkItem } from '../run.ts';
import type { SidecarLayout } from '../sidecars/paths.ts';
import { isSet } from '../records/lazy.ts';
import { describeKinds, findMissingFiles, nothingMissingKnown, pathsToProbe, probeOf, type MissingFile, type RepairKind } from '../sidecars/repair.ts';
import { writeModelSidecars, type SidecarWriteFailure, type SidecarWriteResult } from '../sidecars/write.ts';
import type { SidecarStamp } from '../state/index.ts';
import { contentMany, quickStat } from '../scan/stat-many.ts';
import { describePaths, sweepStaleTempFiles, withWriteBatch, writeFailureHint } from '../util/atomic-write.ts';
import { mapLimit } from '../util/map-limit.ts';

/** Models whose files are written at once. */
const WRITE_CONCURRENCY = 16;

/**
 * Writes the sidecars of what this run looked up, and writes again what an earlier run wrote
 * that is missing or empty now; then reports every item's problems. A file that cannot be
 * written fails its model (errors[], exit code 1): the run never says "done" for it.
 */
export async function writeSidecars(ctx: RunContext): Promise<void> {
  const { job, report, dryRun } = ctx;
  const repaired: RepairKind[] = [];
  const writable = (item: WorkItem, record: ModelRecord | undefined): record is ModelRecord => {
    const canWrite = item.sidecar.kind !== 'foreign' && item.sidecar.kind !== 'unreadable';
    // A good sidecar is never replaced by what a failing run could gather.
    const keepGood = item.incomplete === true && item.sidecar.kind === 'own' && !item.sidecar.stored.incomplete;
    return !dryRun && isSet(item, 'version') && canWrite && record?.civitai.status === 'identified' && !keepGood;
  };
  // What is missing beside each model we may write for: the files to look at are stat'ed in
  // one batch first (a few each, 100,000 in a large library), then checked in parallel. Each
  // model's answers are found by their place in the batch (`from`): no map of paths to answers.
  const compat = job.output.compat;
  const a1111Enabled = compat.a1111_user_metadata;
  const candidates: number[] = [];
  const paths: string[] = [];
  const from: number[] = [];
  for (const [index, item] of ctx.items.entries()) {
    const record = ctx.records[index];
    if (!writable(item, record)) continue;
    candidates.push(index);
    from.push(paths.length);
    pathsToProbe(record, item.layout, item.sidecar, compat, paths);
  }
  from.push(paths.length);
  const content = await contentMany(paths);
  const missingOf = new Map<WorkItem, MissingFile[]>();
  const toCheck: number[] = [];
  for (const [at, index] of candidates.entries()) {
    const item = ctx.items[index] as WorkItem;
    const record = ctx.records[index] as ModelRecord;
    const known = nothingMissingKnown({ record, layout: item.layout, existing: item.sidecar, compat, a1111Enabled, content, at: from[at] as number });
    if (known) missingOf.set(item, known);
    else toCheck.push(at);
  }
  await mapLimit(toCheck, 16, async (at) => {
    const index = candidates[at] as number;
    const item = ctx.items[index] as WorkItem;
    const record = ctx.records[index] as ModelRecord;
    const probe = probeOf(paths, content, from[at] as number, from[at + 1] as number);
    missingOf.set(item, await findMissingFiles({ record, layout: item.layout, existing: item.sidecar, compat, a1111Enabled, probe }));
  });
  // Written in parallel (a bounded pool: each write is a few small files, and on a network share
  // or a slow disk the latency adds up), then reported in the items' order.
  const results = new Map<WorkItem, SidecarWriteResult>();
  const stamps: { path: string; stamp: Omit<SidecarStamp, 'at'> }[] = [];
  /** Models looked up in this run: an incomplete one backs off, a complete one is forgotten. */
  const outcomes: { path: string; model: string; incomplete: boolean }[] = [];
  // Only candidates have an answer in missingOf.
  const toWrite: [number, WorkItem][] = [];
  for (const index of candidates) {
    const item = ctx.items[index] as WorkItem;
    const missing = missingOf.get(item);
    // Not looked up this time: written only when something of it is missing, or when its
    // previews were saved again under other names.
    if (missing !== undefined && (item.fresh || missing.length > 0 || imagesMoved(item))) toWrite.push([index, item]);
  }
  await withWriteBatch(() => mapLimit(toWrite, WRITE_CONCURRENCY, async ([index, item]) => {
    const record = ctx.records[index] as ModelRecord;
    const written = await writeModelSidecars({
      record,
      version: item.version as ModelVersion,
      layout: item.layout,
      existing: item.sidecar,
      compat: job.output.compat,
      // Not looked up (or waiting for its retry): what the sidecar said stays.
      incomplete: item.fresh ? item.incomplete === true : (item.sidecar.kind === 'own' ? item.sidecar.stored.incomplete : item.stored?.incomplete) === true,
    });
    results.set(item, written);
    if (item.fresh && written.metadata) outcomes.push({ path: item.layout.metadataPath, model: item.file.path, incomplete: written.metadata.section.incomplete === true });
    // Stamp what is on disk now, so the next run does not read it back (sidecar-stamps.ts).
    if (written.metadata && ctx.state) {
      const now = await quickStat(item.layout.metadataPath);
      if (now?.isFile()) {
        const { dev, ino, size, mtimeMs } = item.file;
        stamps.push({
          path: item.layout.metadataPath,
          stamp: {
            model: { dev, ino, size, mtimeMs },
            sidecar: { size: now.size, mtimeMs: now.mtimeMs, ctimeMs: now.ctimeMs, ino: now.ino },
            ...written.metadata,
            ...(item.training !== undefined ? { training: item.training } : {}),
          },
        });
      }
    }
  }));
  for (const [index, item] of ctx.items.entries()) {
    const record = ctx.records[index];
    if (!record) continue;
    if (isSet(item, 'version') && item.sidecar.kind !== 'foreign' && item.sidecar.kind !== 'unreadable') record.sidecarPath = item.layout.metadataPath;
    const missing = missingOf.get(item) ?? [];
    const written = results.get(item);
    if (written) {
      report.sidecars.written += written.written;
      report.sidecars.unchanged += written.unchanged;
      item.problems.push(...written.problems);
      for (const file of missing) if (written.writtenPaths.includes(file.path)) repaired.push(file.kind);
      if (written.failures.length > 0) report.fail(item.file.path, 'sidecars', describeWriteFailures(written.failures, job.output.base_dir));
    }
    for (const problem of item.problems) report.warn(item.file.path, problem.stage, problem.message);
  }
  if (ctx.state && (stamps.length > 0 || outcomes.length > 0)) {
    const state = ctx.state;
    try {
      state.transaction(() => {
        for (const { path: sidecarPath, stamp } of stamps) state.sidecars.remember(sidecarPath, stamp);
        // A model that failed here (a preview that could not be *written*: the user fixes the
        // folder) is tried again by the next run; only downloads and lookups back off.
        const failedHere = new Set(report.errors.map((entry) => entry.path));
        for (const outcome of outcomes) {
          if (outcome.incomplete && !failedHere.has(outcome.model)) state.retries.failed(outcome.path);
          else if (outcome.incomplete) state.retries.clear(outcome.path);
          else state.retries.clear(outcome.path);
        }
      });
    } catch {
      // Only saves reads next time; the store's guard already warned.
    }
  }
  // Bodies of replaced stamps: dropped a grace period later (sidecar-stamps.ts).
  ctx.state?.sidecars.collect();
  report.sidecars.repaired += repaired.length;
  if (!dryRun) report.sidecars.tempFilesRemoved += await sweepTempFiles(ctx.candidates, ctx.listings);

  if (repaired.length > 0) ctx.log.info(`sidecars: repaired ${repaired.length} missing/empty file${repaired.length === 1 ? '' : 's'} (${describeKinds(repaired)})`);
  const removed = report.sidecars.tempFilesRemoved;
  if (removed > 0) ctx.log.info(`sidecars: removed ${removed} temp file${removed === 1 ? '' : 's'} left by an interrupted run`);
}

/** The previews of an item not looked up this time were saved again under other names. */
function imagesMoved(item: WorkItem): boolean {
  const before = item.stored?.images;
  if (!before || item.fresh) return false;
  return item.images.length !== before.length || item.images.some((image, index) => image.path !== before[index]?.path || image.still !== before[index]?.still);
}

/**
 * One line for a model's failed writes: every path, the error (without the temp file's name
 * Node adds), and what to do.
 */
export function describeWriteFailures(failures: readonly SidecarWriteFailure[], baseDir: string | undefined): string {
  const first = failures[0] as SidecarWriteFailure;
  const reason = first.message.replace(/, (open|rename|write|mkdir|link|unlink|copyfile) '.*$/s, '');
  return `could not write ${describePaths(failures.map((failure) => failure.path))} (${reason}); ${writeFailureHint(first.code, baseDir ? { baseDir } : {})}`;
}

/**
 * Sweeps the leftovers of interrupted writes from every folder the job's models write into:
 * only our temp-name pattern, only for names of the models in that folder, only stale ones.
 * Which names belong to which folder is worked out only once a temp file turns up: on most
 * runs there is none, and building it for 50,000 models was a tenth of a no-change rerun.
 */
async function sweepTempFiles(items: readonly WorkItem[], listings: ReadonlyMap<string, readonly string[]>): Promise<number> {
  const folders = new Set<string>();
  let last: SidecarLayout | undefined;
  for (const { layout } of items) {
    // The models of one folder come one after another, with the same folders (one string each).
    if (last && layout.compatDir === last.compatDir && layout.imagesDir === last.imagesDir && inFolder(layout.metadataPath, layout.compatDir) && inFolder(last.metadataPath, last.compatDir)) continue;
    last = layout;
    folders.add(layout.compatDir);
    folders.add(layout.imagesDir);
    folders.add(inFolder(layout.metadataPath, layout.compatDir) ? layout.compatDir : path.dirname(layout.metadataPath));
  }
  let owners: Map<string, { names: Set<string>; stems: string[] }> | undefined;
  const ownersOf = (folder: string) => (owners ??= namesByFolder(items)).get(folder);
  let removed = 0;
  await mapLimit([...folders], 8, async (folder) => {
    // A folder discovery read holds only the temp names it saw (stale ones were there then).
    const listed = listings.get(folder);
    if (listed?.length === 0) return;
    const belongs = (target: string) => {
      const entry = ownersOf(folder);
      return entry !== undefined && (entry.names.has(target) || entry.stems.some((stem) => target.startsWith(stem)));
    };
    const swept = await sweepStaleTempFiles(folder, belongs, listed ? { names: listed } : {});
    removed += swept.length;
  });
  return removed;
}

/** Whether `file` is directly inside `folder`. */
function inFolder(file: string, folder: string): boolean {
  return file.length > folder.length + 1 && file.startsWith(folder) && file[folder.length] === path.sep && file.indexOf(path.sep, folder.length + 1) === -1;
}

/** Per folder: the file names our writes there target, and the `<stem>.` every other name of ours starts with. */
function namesByFolder(items: readonly WorkItem[]): Map<string, { names: Set<string>; stems: string[] }> {
  const folders = new Map<string, { names: Set<string>; stems: Set<string> }>();
  const add = (folder: string, stem: string, name?: string) => {
    let entry = folders.get(folder);
    if (!entry) folders.set(folder, (entry = { names: new Set(), stems: new Set() }));
    entry.stems.add(`${stem}.`);
    if (name) entry.names.add(name);
  };
  for (const { file, layout } of items) {
    add(path.dirname(layout.metadataPath), file.stem, path.basename(layout.metadataPath));
    add(layout.compatDir, file.stem);
    add(layout.imagesDir, file.stem);
  }
  return new Map([...folders].map(([folder, { names, stems }]) => [folder, { names, stems: [...stems] }]));
}
