import path from 'node:path';
import type { ModelVersion } from '../civitai/schemas.ts';
import type { ModelRecord } from '../records/schema.ts';
import type { RunContext, WorkItem } from '../run.ts';
import { describeKinds, findMissingFiles, type MissingFile, type RepairKind } from '../sidecars/repair.ts';
import { writeModelSidecars, type SidecarWriteFailure } from '../sidecars/write.ts';
import { describePaths, sweepStaleTempFiles, writeFailureHint } from '../util/atomic-write.ts';
import { mapLimit } from '../util/map-limit.ts';

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
    return !dryRun && item.version !== undefined && canWrite && record?.civitai.status === 'identified' && !keepGood;
  };
  // What is missing beside each model we may write for, checked in parallel (a few stats
  // each, which add up on a network share).
  const missingOf = new Map<WorkItem, MissingFile[]>();
  await mapLimit([...ctx.items.entries()], 16, async ([index, item]) => {
    const record = ctx.records[index];
    if (!writable(item, record)) return;
    const compat = job.output.compat;
    missingOf.set(item, await findMissingFiles({ record, layout: item.layout, existing: item.sidecar, compat, a1111Enabled: compat.a1111_user_metadata }));
  });
  for (const [index, item] of ctx.items.entries()) {
    const record = ctx.records[index];
    if (!record) continue;
    if (item.version && item.sidecar.kind !== 'foreign' && item.sidecar.kind !== 'unreadable') record.sidecarPath = item.layout.metadataPath;
    const missing = missingOf.get(item);
    // Not looked up this time: written only when something of it is missing, or when its
    // previews were saved again under other names.
    if (missing && (item.fresh || missing.length > 0 || imagesMoved(item))) {
      const written = await writeModelSidecars({
        record,
        version: item.version as ModelVersion,
        layout: item.layout,
        existing: item.sidecar,
        compat: job.output.compat,
        incomplete: item.fresh ? item.incomplete === true : item.stored?.incomplete === true,
      });
      report.sidecars.written += written.written;
      report.sidecars.unchanged += written.unchanged;
      item.problems.push(...written.problems);
      for (const file of missing) if (written.writtenPaths.includes(file.path)) repaired.push(file.kind);
      if (written.failures.length > 0) report.fail(item.file.path, 'sidecars', describeWriteFailures(written.failures, job.output.base_dir));
    }
    for (const problem of item.problems) report.warn(item.file.path, problem.stage, problem.message);
  }
  report.sidecars.repaired += repaired.length;
  if (!dryRun) report.sidecars.tempFilesRemoved += await sweepTempFiles(ctx.candidates);

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
 */
async function sweepTempFiles(items: readonly WorkItem[]): Promise<number> {
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
  let removed = 0;
  for (const [folder, { names, stems }] of folders) {
    const belongs = (target: string) => names.has(target) || [...stems].some((stem) => target.startsWith(stem));
    removed += (await sweepStaleTempFiles(folder, belongs)).length;
  }
  return removed;
}
