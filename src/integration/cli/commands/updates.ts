/**
 * `civitscraper updates`: the newer versions of the library's models, family by family (the
 * engine's rules, engine/updates/), as a table or `--json`. The records come from the sidecars
 * (the engine run offline, as for `report`); the parent models are asked with `/models?ids=`
 * through a 24 h cache, or not at all with --offline / --no-remote.
 *
 * `--ignore VERSION` / `--unignore VERSION` change the ignore list in updates.json and stop.
 */
import type { ScanJob } from '../../engine/config/index.ts';
import { createOfflineClient } from '../../engine/civitai/client.ts';
import type { ModelRecord } from '../../engine/records/schema.ts';
import { LinkRefError, parseVersionRef } from '../../engine/sources/links.ts';
import { acquireCacheLock, CacheLockedError, type CacheLock } from '../../engine/state/index.ts';
import { checkUpdates } from '../../engine/updates/check.ts';
import type { UpdateReport } from '../../engine/updates/schema.ts';
import { readUpdateState, UpdateStateDamagedError, updatesPath, writeUpdateState } from '../../engine/updates/state.ts';
import type { CliContext } from '../context.ts';
import { EXIT, UsageError } from '../exit.ts';
import { plural } from '../format.ts';
import { isAbortError } from '../interrupt.ts';
import { runScanStep } from '../jobs.ts';
import { chooseJobs, type CommandResult } from './shared.ts';

export async function updatesCommand(ctx: CliContext): Promise<CommandResult> {
  if (ctx.args.ignore.length > 0 || ctx.args.unignore.length > 0) return changeIgnored(ctx);
  const records = await libraryRecords(ctx);
  if (records === undefined) return { exitCode: EXIT.interrupted, json: { command: 'updates', exitCode: EXIT.interrupted, interrupted: true } };
  let report: UpdateReport;
  try {
    report = await checkUpdates({
      config: ctx.config,
      records,
      network: ctx.config.sources.network,
      logger: ctx.logger,
      signal: ctx.interrupt.signal,
      forceRefresh: ctx.args.forceRefresh,
      dryRun: ctx.dryRun,
    });
  } catch (error) {
    if (!isAbortError(error, ctx.interrupt.signal)) throw error;
    return { exitCode: EXIT.interrupted, json: { command: 'updates', exitCode: EXIT.interrupted, interrupted: true } };
  }
  const exitCode = ctx.interrupt.interrupted ? EXIT.interrupted : EXIT.ok;
  if (!ctx.args.json) ctx.out(formatUpdates(report, Date.now()));
  ctx.logger.info(answersLine(report, Date.now()));
  return { exitCode, json: { command: 'updates', exitCode, ...report } };
}

/** The identified records of the selected scan jobs (every scan job when the default one is a sync job), from their sidecars. */
async function libraryRecords(ctx: CliContext): Promise<ModelRecord[] | undefined> {
  let jobs = chooseJobs(ctx).filter((entry): entry is { name: string; job: ScanJob } => entry.job.type === 'scan-paths');
  if (jobs.length === 0 && ctx.args.job === undefined) {
    jobs = Object.entries(ctx.config.jobs).flatMap(([name, job]) => (job.type === 'scan-paths' ? [{ name, job }] : []));
  }
  if (jobs.length === 0) throw new UsageError(`job "${ctx.args.job}" is not a scan-paths job; the update check needs one`);
  const client = createOfflineClient('`civitscraper updates` reads the library from its sidecars; no lookup is made');
  const byPath = new Map<string, ModelRecord>();
  for (const { name, job } of jobs) {
    if (ctx.interrupt.signal.aborted) return undefined;
    const outcome = await runScanStep(ctx, name, { ...job, use_cached_metadata: true }, { organize: 'never', client, forceDryRun: true, ...(jobs.length > 1 ? { label: name } : {}) });
    if (outcome.interrupted) return undefined;
    for (const record of outcome.records ?? []) if (!byPath.has(record.file.path)) byPath.set(record.file.path, record);
  }
  return [...byPath.values()];
}

async function changeIgnored(ctx: CliContext): Promise<CommandResult> {
  const parse = (refs: string[]) =>
    refs.map((ref) => {
      try {
        return parseVersionRef(ref);
      } catch (error) {
        if (error instanceof LinkRefError) throw new UsageError(`--ignore/--unignore: ${error.message}`);
        throw error;
      }
    });
  const ignore = parse(ctx.args.ignore);
  const unignore = parse(ctx.args.unignore);
  const both = ignore.filter((id) => unignore.includes(id));
  if (both.length > 0) throw new UsageError(`version ${both.join(', ')} is given to both --ignore and --unignore`);
  const cacheDir = ctx.config.scanner.cache_dir;
  const failed = (error: unknown): CommandResult => {
    ctx.logger.error((error as Error).message);
    return { exitCode: EXIT.filesFailed, json: { command: 'updates', exitCode: EXIT.filesFailed, error: (error as Error).message } };
  };
  let lock: CacheLock;
  try {
    lock = await acquireCacheLock(cacheDir, { logger: ctx.logger, signal: ctx.interrupt.signal, job: 'updates' });
  } catch (error) {
    if (error instanceof CacheLockedError) return failed(error);
    if (isAbortError(error, ctx.interrupt.signal)) return { exitCode: EXIT.interrupted, json: { command: 'updates', exitCode: EXIT.interrupted, interrupted: true } };
    throw error;
  }
  let list: number[];
  const added: number[] = [];
  const removed: number[] = [];
  try {
    // A damaged file is moved aside before the new list is written (a dry run leaves it).
    let state;
    try {
      state = await readUpdateState(cacheDir, ctx.logger, { damaged: ctx.dryRun ? 'keep' : 'before-write' });
    } catch (error) {
      if (error instanceof UpdateStateDamagedError) return failed(error);
      throw error;
    }
    const current = new Set(state.ignore);
    for (const id of ignore) {
      if (current.has(id)) continue;
      current.add(id);
      added.push(id);
    }
    for (const id of unignore) if (current.delete(id)) removed.push(id);
    list = [...current].sort((a, b) => a - b);
    if (!ctx.dryRun && (added.length > 0 || removed.length > 0)) await writeUpdateState(cacheDir, { ...state, ignore: list });
  } finally {
    lock.release();
  }
  const would = ctx.dryRun ? 'would ' : '';
  if (added.length > 0) ctx.logger.info(`updates: ${would}ignore version ${added.join(', ')} (${updatesPath(cacheDir)})`);
  if (removed.length > 0) ctx.logger.info(`updates: ${would}offer version ${removed.join(', ')} again`);
  for (const id of ignore.filter((id) => !added.includes(id))) ctx.logger.info(`updates: version ${id} was already ignored`);
  for (const id of unignore.filter((id) => !removed.includes(id))) {
    ctx.logger.warn(
      ctx.config.updates.ignore.includes(id)
        ? `updates: version ${id} is ignored by the config's updates.ignore; remove it there`
        : `updates: version ${id} was not ignored`,
    );
  }
  return { exitCode: EXIT.ok, json: { command: 'updates', exitCode: EXIT.ok, ignored: added, unignored: removed, ignore: list, configIgnore: ctx.config.updates.ignore } };
}

const FLAG_LABELS: Record<string, string> = { 'early-access': 'early access', paid: 'paid', 'on-site-only': 'on-site only', ignored: 'ignored' };

/** `3 h`, `2 days`: how old an answer is. */
export function formatAge(fromIso: string | undefined, now: number): string {
  const time = Date.parse(fromIso ?? '');
  if (Number.isNaN(time)) return 'of unknown age';
  const minutes = Math.max(0, Math.round((now - time) / 60_000));
  if (minutes < 60) return `${minutes} min old`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h old`;
  return `${Math.round(hours / 24)} days old`;
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** The table for people: one row per newer version, the model and local version on its first row. */
export function formatUpdates(report: UpdateReport, now: number): string {
  const header = ['Model', 'Local version', 'Newer version', 'Base model', 'Published', 'Flags'];
  const rows: string[][] = [];
  let ignored = 0;
  for (const entry of report.entries) {
    let first = true;
    for (const newer of entry.newer) {
      if (newer.flags.includes('ignored')) {
        ignored += 1;
        continue;
      }
      const flags = newer.flags.map((flag) => FLAG_LABELS[flag] ?? flag);
      if (newer.earlyAccessEndsAt && newer.flags.includes('early-access')) flags[flags.indexOf('early access')] = `early access until ${newer.earlyAccessEndsAt.slice(0, 10)}`;
      if (entry.answer.error) flags.push(`check failed, data ${formatAge(entry.answer.fetchedAt, now)}`);
      rows.push([
        first ? clip(`${entry.model} (${entry.modelId})`, 44) : '',
        first ? clip(entry.local.name, 24) : '',
        clip(`${newer.name} (${newer.versionId})`, 32),
        newer.baseModel ?? '',
        newer.publishedAt?.slice(0, 10) ?? '',
        flags.join(', ') || '-',
      ]);
      first = false;
    }
  }
  const lines: string[] = [];
  if (rows.length === 0) {
    lines.push(report.entries.length === 0 ? 'No newer versions for the models in the library.' : 'No newer versions but ignored ones.');
  } else {
    const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
    const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
    lines.push(line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line));
  }
  const flagged = rows.length - report.counted;
  lines.push(
    '',
    `${plural(report.counted, 'update')}${flagged > 0 ? `, ${flagged} flagged (not counted)` : ''}${ignored > 0 ? `, ${ignored} ignored (civitscraper updates --unignore VERSION)` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

/** How the answers were had, and how old they are. */
export function answersLine(report: UpdateReport, now: number): string {
  const { models } = report;
  if (models.total === 0) return 'updates: no identified model in the library (run `civitscraper scan` first)';
  const parts = [
    models.network > 0 ? `${models.network} asked now (${plural(report.requests, 'request')})` : '',
    models.cache > 0 ? `${models.cache} from answers under a day old` : '',
    models.snapshot > 0 ? `${models.snapshot} from the last check` : '',
    models.sidecar > 0 ? `${models.sidecar} from what the scan stored` : '',
  ].filter(Boolean);
  const off = (report.notAsked ?? []).map((entry) => entry.reason);
  const asked = models.network + models.cache > 0;
  const mode =
    report.network !== 'online'
      ? ` (--${report.network}: nothing was sent)`
      : off.length > 0 && !asked
        ? ` (${off.join(', ')}: nothing was sent, so nothing new is known; the answers are the last ones stored)`
        : '';
  const skipped = asked && off.length > 0
    ? (report.notAsked ?? []).map((entry) => `; ${plural(entry.models, 'model')} not asked (${entry.reason})`).join('')
    : '';
  const failed = models.failed > 0 ? `; ${models.failed} could not be asked (what was known is kept)` : '';
  const missing = models.missing > 0 ? `; ${models.missing} removed from CivitAI` : '';
  const oldest = models.oldestAnswerAt ? `; the oldest answer is ${formatAge(models.oldestAnswerAt, now)}` : '';
  return `updates: ${plural(models.total, 'model')} checked${mode}: ${parts.join(', ') || 'no data'}${oldest}${skipped}${failed}${missing}`;
}
