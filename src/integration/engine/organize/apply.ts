/**
 * Executing a plan, undoing a run, and recovering from a crash. Every change to the library is
 * one journaled operation (see journal.ts, ops.ts):
 *
 * - apply: per unit (a model and its sidecars) → set aside overwritten targets into the run's
 *   trash, create folders, then move/copy/link each file. A unit whose operation fails is reversed
 *   at once, so a model never ends up separated from its sidecars. After the last unit: `commit`,
 *   then the trash is deleted (`purged`) unless `keepTrash`.
 * - recovery: a run without `commit` whose process is gone is rolled back: its operations are
 *   reversed newest first (the one interrupted included; each reversal looks at the disk first),
 *   so every file is back at its source. An undo run without `commit` is finished instead. A
 *   committed run whose trash was not yet deleted is completed.
 * - undo: a committed run is reversed by a new "undo" run whose operations (the inverses, newest
 *   first) are listed in its header, so a crash in the middle of an undo is finished by recovery.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../util/logger.ts';
import { silentLogger } from '../util/logger.ts';
import type { ModelRecord } from '../records/schema.ts';
import { isInside } from './sanitize.ts';
import { isCode, lstatOrNull, OrganizeError, removeDirIfEmpty, type FileOpContext } from './fsops.ts';
import {
  acquireLock,
  changedSomething,
  isRunning,
  isSettled,
  JOURNAL_FORMAT,
  JournalWriter,
  listRuns,
  newRunId,
  releaseLock,
  trashDir,
  type RunInfo,
} from './journal.ts';
import { inverseOf, runForward, tempsOf, type Op, type OpKind, type OpResult } from './ops.ts';
import type { FileRole, OperationMode, OrganizePlan, PlannedFile, PlannedUnit, UnitVerdict } from './plan.ts';

export interface OrganizeStep {
  /** 1-based count of probe points reached in this call. */
  n: number;
  phase: string;
  seq?: number;
  kind?: OpKind;
  detail?: string;
}

export interface ExecutionHooks {
  logger?: Logger;
  /** Test hook: called synchronously at every point between two instructions. */
  onStep?: (step: OrganizeStep) => void;
  /** Test hook: treat every move as crossing devices (copy, fsync, verify, delete). */
  forceCrossDevice?: boolean;
  /** Test hook: copy buffer size in bytes. */
  chunkSize?: number;
}

export interface ApplyOptions extends ExecutionHooks {
  journalDir: string;
  /** Change nothing (no journal either); report what would happen. */
  dryRun?: boolean;
  /** Keep overwritten targets in `<journalDir>/<runId>.trash` after the run (so undo can restore them). */
  keepTrash?: boolean;
}

export type UnitStatus = 'done' | 'in-place' | 'skipped' | 'failed' | 'planned';

export interface UnitOutcome {
  recordId: string;
  verdict: UnitVerdict;
  status: UnitStatus;
  reason?: string;
  files: Array<{ role: FileRole; source: string; target: string; changed: boolean }>;
}

/** Where a moved model's files are now (move mode): the ledger follows these, no re-hash needed. */
export interface Relocation {
  recordId: string;
  files: Array<{ role: FileRole; from: string; to: string }>;
}

export interface OrganizeResult {
  runId?: string;
  journalPath?: string;
  dryRun: boolean;
  mode: OperationMode;
  units: UnitOutcome[];
  relocations: Relocation[];
  counts: Record<UnitStatus, number>;
  problems: string[];
  /** Where the targets this run overwrote are kept (`keepTrash`), when it overwrote any. */
  trashDir?: string;
}

export interface UndoResult {
  /** The undo run's own id (its journal). */
  runId: string;
  undoneRunId: string;
  /** Operations reversed. */
  reversed: number;
  problems: string[];
}

export interface RecoveryResult {
  runs: Array<{ runId: string; kind: 'organize' | 'undo'; action: 'rolled-back' | 'finished' | 'completed' | 'in-progress'; problems: string[] }>;
}

/** Codes meaning "this was not ours to touch": benign when reversing an operation that may never have started. */
const NOT_OURS = new Set(['EXISTS', 'KEPT', 'MISSING']);

class Executor {
  n = 0;
  seq = 0;
  readonly journal: JournalWriter | undefined;
  readonly hooks: ExecutionHooks;

  constructor(journal: JournalWriter | undefined, hooks: ExecutionHooks) {
    this.journal = journal;
    this.hooks = hooks;
  }

  probe(phase: string, extra: Omit<OrganizeStep, 'n' | 'phase'> = {}): void {
    this.n += 1;
    this.hooks.onStep?.({ n: this.n, phase, ...extra });
  }

  context(seq: number, op: Op): FileOpContext {
    return {
      step: (phase, detail) => this.probe(phase, { seq, kind: op.kind, detail }),
      forceCrossDevice: this.hooks.forceCrossDevice,
      chunkSize: this.hooks.chunkSize,
    };
  }

  /** Journal intent → do → journal done. Throws (intent stays without `done`) on failure. */
  async execute(seq: number, unit: number, op: Op, resume: boolean): Promise<OpResult> {
    this.journal?.append({ type: 'intent', seq, unit, op });
    this.probe('intent', { seq, kind: op.kind });
    const result = await runForward(op, this.context(seq, op), resume);
    this.journal?.append({ type: 'done', seq, result });
    this.probe('done', { seq, kind: op.kind });
    return result;
  }

  /**
   * Reverses one operation of an organize run. `finished: false` = it may have been interrupted
   * anywhere (or never started), so "not ours" outcomes are expected and fine.
   */
  async reverse(seq: number, op: Op, result: OpResult | undefined, finished: boolean, untouched = false): Promise<string | undefined> {
    const inverse = untouched ? undefined : inverseOf(op, result, reverseTemp(op));
    try {
      for (const temp of tempsOf(op)) await rm(temp, { force: true });
      if (inverse) await runForward(inverse, this.context(seq, inverse), true);
    } catch (error) {
      const code = error instanceof OrganizeError ? error.code : '';
      if (finished || !NOT_OURS.has(code)) return describe(error);
    }
    this.journal?.append({ type: 'reverted', seq });
    this.probe('reverted', { seq, kind: op.kind });
    return undefined;
  }
}

function reverseTemp(op: Op): string {
  const dir = op.kind === 'move' || op.kind === 'copy' ? path.dirname(op.from) : '.';
  return path.join(dir, `.civitscraper-${shortHash(JSON.stringify(op))}.undo.part`);
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function assertNoIncompleteRuns(journalDir: string): Promise<void> {
  for (const run of await listRuns(journalDir)) {
    if (isSettled(run)) continue;
    const running = await isRunning(journalDir, run.runId);
    throw new OrganizeError(
      'INCOMPLETE',
      running
        ? `organize run ${run.runId} is still running (${run.file})`
        : `organize run ${run.runId} was interrupted; run the recovery first (it rolls it back), then plan again`,
    );
  }
}

export async function applyPlan(plan: OrganizePlan, options: ApplyOptions): Promise<OrganizeResult> {
  const logger = options.logger ?? silentLogger;
  const result: OrganizeResult = {
    dryRun: options.dryRun === true,
    mode: plan.mode,
    units: [],
    relocations: [],
    counts: { done: 0, 'in-place': 0, skipped: 0, failed: 0, planned: 0 },
    problems: [],
  };
  const finish = (outcome: UnitOutcome) => {
    result.units.push(outcome);
    result.counts[outcome.status] += 1;
  };
  const outcomeOf = (unit: PlannedUnit, status: UnitStatus, reason = unit.reason): UnitOutcome => ({
    recordId: unit.recordId,
    verdict: unit.verdict,
    status,
    ...(reason ? { reason } : {}),
    files: unit.files.map((file) => ({ role: file.role, source: file.source, target: file.target, changed: status === 'done' && file.collision !== 'same' })),
  });

  if (options.dryRun) {
    for (const unit of plan.units) finish(outcomeOf(unit, staticStatus(unit.verdict) ?? 'planned'));
    return result;
  }

  await assertNoIncompleteRuns(options.journalDir);
  const runId = newRunId();
  // The lock exists before the journal does, so a recovery never mistakes this run for a dead one.
  await acquireLock(options.journalDir, runId);
  const journal = await JournalWriter.create(options.journalDir, {
    type: 'begin',
    format: JOURNAL_FORMAT,
    kind: 'organize',
    runId,
    startedAt: new Date().toISOString(),
    mode: plan.mode,
    onCollision: plan.onCollision,
    keepTrash: options.keepTrash === true,
  }).catch(async (error: unknown) => {
    await releaseLock(options.journalDir, runId);
    throw error;
  });
  result.runId = runId;
  result.journalPath = journal.file;
  const executor = new Executor(journal, options);
  let trashUsed = false;
  try {
    for (const [index, unit] of plan.units.entries()) {
      const status = staticStatus(unit.verdict);
      if (status) {
        if (status === 'failed') logger.warn(`organize: ${unit.files[0]?.source}: ${unit.reason}`);
        else if (status === 'skipped') logger.info(`organize: skipped ${unit.files[0]?.source}: ${unit.reason}`);
        finish(outcomeOf(unit, status));
        continue;
      }
      const executed: Array<{ seq: number; op: Op; result?: OpResult }> = [];
      try {
        const { ops, files, dropped } = await unitOps(unit, index, plan.mode, runId, options.journalDir);
        for (const note of dropped) logger.warn(`organize: ${note}`);
        for (const op of ops) {
          const seq = ++executor.seq;
          const entry: { seq: number; op: Op; result?: OpResult } = { seq, op };
          executed.push(entry);
          if (op.kind === 'move' && op.trash) trashUsed = true;
          entry.result = await executor.execute(seq, index, op, false);
        }
        if (plan.mode === 'move' && files.length > 0) {
          result.relocations.push({ recordId: unit.recordId, files: files.map((file) => ({ role: file.role, from: file.source, to: file.target })) });
        }
        logger.info(`organize: ${plan.mode} ${unit.files[0]?.source} → ${unit.targetDir}`);
        finish(outcomeOf(unit, 'done'));
      } catch (error) {
        const reason = describe(error);
        // Our own refusals (target taken, source changed, …) are raised before anything is placed.
        const refused = error instanceof OrganizeError;
        for (const [position, entry] of executed.reverse().entries()) {
          const untouched = position === 0 && entry.result === undefined && refused;
          const problem = await executor.reverse(entry.seq, entry.op, entry.result, entry.result !== undefined, untouched);
          if (problem) result.problems.push(`could not reverse ${entry.op.kind} for ${unit.files[0]?.source}: ${problem}`);
        }
        logger.warn(`organize: ${unit.files[0]?.source}: ${reason} (left as it was)`);
        finish(outcomeOf(unit, 'failed', reason));
      }
    }
    const { done, 'in-place': inPlace, skipped, failed } = result.counts;
    journal.append({ type: 'commit', at: new Date().toISOString(), counts: { done, 'in-place': inPlace, skipped, failed } });
    executor.probe('commit');
    if (trashUsed && !options.keepTrash) {
      await rm(trashDir(options.journalDir, runId), { recursive: true, force: true });
      journal.append({ type: 'purged', at: new Date().toISOString() });
      executor.probe('purged');
    } else if (trashUsed) {
      result.trashDir = trashDir(options.journalDir, runId);
    }
  } finally {
    journal.close();
    await releaseLock(options.journalDir, runId);
  }
  return result;
}

function staticStatus(verdict: UnitVerdict): UnitStatus | undefined {
  switch (verdict) {
    case 'skip':
      return 'skipped';
    case 'fail':
      return 'failed';
    case 'in-place':
      return 'in-place';
    default:
      return undefined;
  }
}

/** The operations of one unit, computed against the disk as it is now. */
async function unitOps(
  unit: PlannedUnit,
  index: number,
  mode: OperationMode,
  runId: string,
  journalDir: string,
): Promise<{ ops: Op[]; files: PlannedFile[]; dropped: string[] }> {
  const ops: Op[] = [];
  const dropped: string[] = [];
  const files: PlannedFile[] = [];
  for (const file of unit.files) {
    if (file.collision === 'same') continue;
    const stats = await lstatOrNull(file.source);
    if (file.role === 'model') {
      if (!stats) throw new OrganizeError('MISSING', `${file.source} is missing`);
      if (Number(stats.size) !== file.size) throw new OrganizeError('CHANGED', `${file.source} changed size since the plan was made`);
    } else if (!stats) {
      dropped.push(`${file.source} disappeared since the plan was made; the model goes without it`);
      continue;
    }
    if (!isInside(unit.outputRoot, file.target)) throw new OrganizeError('OUTSIDE', `${file.target} is outside ${unit.outputRoot}`);
    files.push(file);
  }
  if (unit.verdict === 'overwrite') {
    for (const [fileIndex, file] of files.entries()) {
      if (file.collision !== 'exists' || !(await lstatOrNull(file.target))) continue;
      const aside = path.join(trashDir(journalDir, runId), `${index}-${fileIndex}`, path.basename(file.target));
      ops.push({ kind: 'move', from: file.target, to: aside, temp: path.join(path.dirname(aside), '.incoming.part'), trash: true });
    }
  }
  const missing: string[] = [];
  for (let dir = unit.targetDir; !(await lstatOrNull(dir)); dir = path.dirname(dir)) {
    missing.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of missing) ops.push({ kind: 'mkdir', path: dir });
  for (const file of files) {
    const temp = path.join(path.dirname(file.target), `.civitscraper-${shortHash(`${runId}\0${file.target}`)}.part`);
    const expected = { size: file.role === 'model' ? file.size : undefined, ...(file.sha256 ? { sha256: file.sha256 } : {}) };
    switch (mode) {
      case 'move':
        ops.push({ kind: 'move', from: file.source, to: file.target, temp, ...expected });
        break;
      case 'copy':
        ops.push({ kind: 'copy', from: file.source, to: file.target, temp, ...expected });
        break;
      case 'symlink':
        ops.push({ kind: 'symlink', path: file.target, target: file.source });
        break;
      case 'hardlink':
        ops.push({ kind: 'hardlink', from: file.source, to: file.target });
        break;
    }
  }
  // Trash folders live in the journal folder: created outside the journaled operations.
  for (const op of ops) {
    if (op.kind === 'move' && op.trash) await mkdir(path.dirname(op.to), { recursive: true });
  }
  return { ops, files, dropped };
}

/** Rolls back interrupted organize runs, finishes interrupted undo runs, completes committed runs. */
export async function recoverIncompleteRuns(journalDir: string, hooks: ExecutionHooks = {}): Promise<RecoveryResult> {
  const logger = hooks.logger ?? silentLogger;
  const result: RecoveryResult = { runs: [] };
  for (const run of await listRuns(journalDir)) {
    const kind = run.begin.kind;
    const needsPurge = kind === 'organize' && run.committed && !run.purged && !run.begin.keepTrash && run.ops.some((state) => state.op.kind === 'move' && state.op.trash);
    if (run.rolledBack || (run.committed && !needsPurge)) continue;
    if (await isRunning(journalDir, run.runId)) {
      result.runs.push({ runId: run.runId, kind, action: 'in-progress', problems: [] });
      continue;
    }
    const journal = JournalWriter.open(run.file);
    const executor = new Executor(journal, hooks);
    const problems: string[] = [];
    try {
      if (run.committed) {
        await rm(trashDir(journalDir, run.runId), { recursive: true, force: true });
        journal.append({ type: 'purged', at: new Date().toISOString() });
        result.runs.push({ runId: run.runId, kind, action: 'completed', problems });
      } else if (kind === 'undo') {
        const done = new Set(run.ops.filter((state) => state.done).map((state) => state.seq));
        await executeUndoOps(run.begin.ops ?? [], done, executor, problems);
        journal.append({ type: 'commit', at: new Date().toISOString() });
        if (run.begin.undoOf) await cleanTrash(journalDir, run.begin.undoOf, problems);
        result.runs.push({ runId: run.runId, kind, action: 'finished', problems });
      } else {
        for (const state of [...run.ops].reverse()) {
          if (state.reverted) continue;
          const problem = await executor.reverse(state.seq, state.op, state.result, state.done);
          if (problem) problems.push(`could not reverse ${state.op.kind} #${state.seq}: ${problem}`);
        }
        await cleanTrash(journalDir, run.runId, problems);
        journal.append({ type: 'rolled-back', at: new Date().toISOString() });
        executor.probe('rolled-back');
        result.runs.push({ runId: run.runId, kind, action: 'rolled-back', problems });
      }
    } finally {
      journal.close();
    }
    await releaseLock(journalDir, run.runId);
    for (const problem of problems) logger.error(`organize recovery (${run.runId}): ${problem}`);
  }
  return result;
}

/** Removes a rolled-back run's trash folder: only empty folders, so a file still there is never lost. */
async function cleanTrash(journalDir: string, runId: string, problems: string[]): Promise<void> {
  const root = trashDir(journalDir, runId);
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return;
    throw error;
  }
  for (const entry of entries) {
    const dir = path.join(root, entry);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.endsWith('.part')) await rm(path.join(dir, name), { force: true });
    }
    if ((await removeDirIfEmpty(dir)) === 'kept') problems.push(`${dir} still holds a file set aside by the run; it was kept`);
  }
  await removeDirIfEmpty(root);
}

async function executeUndoOps(
  ops: ReadonlyArray<{ seq: number; unit: number; op: Op }>,
  done: ReadonlySet<number>,
  executor: Executor,
  problems: string[],
): Promise<number> {
  let reversed = 0;
  for (const planned of ops) {
    if (done.has(planned.seq)) {
      reversed += 1;
      continue;
    }
    try {
      await executor.execute(planned.seq, planned.unit, planned.op, true);
      reversed += 1;
    } catch (error) {
      const message = describe(error);
      executor.journal?.append({ type: 'failed', seq: planned.seq, error: message });
      problems.push(message);
    }
  }
  return reversed;
}

export interface UndoOptions extends ExecutionHooks {
  journalDir: string;
  /**
   * The run to undo; when absent, the latest committed organize run that changed something and
   * is not undone yet (a rerun that found everything in place is never the one undone).
   */
  runId?: string;
}

/** What `--undo` without a run id undoes: see UndoOptions.runId. */
export function latestUndoable(runs: readonly RunInfo[]): RunInfo | undefined {
  const undone = new Set(runs.filter((run) => run.begin.kind === 'undo' && run.committed).map((run) => run.begin.undoOf));
  return runs.filter((run) => run.begin.kind === 'organize' && run.committed && !undone.has(run.runId) && changedSomething(run)).at(-1);
}

export async function undoRun(options: UndoOptions): Promise<UndoResult> {
  const { journalDir } = options;
  const runs = await listRuns(journalDir);
  for (const run of runs) {
    if (!isSettled(run)) {
      throw new OrganizeError('INCOMPLETE', `run ${run.runId} is ${(await isRunning(journalDir, run.runId)) ? 'still running' : 'interrupted; run the recovery first'}`);
    }
  }
  const undone = new Set(runs.filter((run) => run.begin.kind === 'undo' && run.committed).map((run) => run.begin.undoOf));
  let target: RunInfo | undefined;
  if (options.runId !== undefined) {
    target = runs.find((run) => run.runId === options.runId);
    if (!target) throw new OrganizeError('NO_RUN', `no organize run ${options.runId} in ${journalDir}`);
    if (target.begin.kind !== 'organize') throw new OrganizeError('NO_RUN', `${options.runId} is an undo run; it cannot be undone`);
    if (!target.committed) throw new OrganizeError('NO_RUN', `run ${options.runId} did not complete (it was rolled back)`);
    if (undone.has(target.runId)) throw new OrganizeError('UNDONE', `run ${options.runId} was already undone`);
  } else {
    target = latestUndoable(runs);
    if (!target) throw new OrganizeError('NO_RUN', noRunToUndo(runs, journalDir));
  }

  const problems: string[] = [];
  const ops: Array<{ seq: number; unit: number; op: Op }> = [];
  let seq = 0;
  for (const state of [...target.ops].reverse()) {
    if (!state.done || state.reverted) continue;
    if (state.op.kind === 'move' && state.op.trash && target.purged) {
      problems.push(`${state.op.from} was overwritten by run ${target.runId} and deleted when it completed; it cannot be restored`);
      continue;
    }
    const inverse = inverseOf(state.op, state.result, reverseTemp(state.op));
    if (inverse) ops.push({ seq: ++seq, unit: state.unit, op: inverse });
  }
  const runId = newRunId();
  await acquireLock(journalDir, runId);
  const journal = await JournalWriter.create(journalDir, {
    type: 'begin',
    format: JOURNAL_FORMAT,
    kind: 'undo',
    runId,
    startedAt: new Date().toISOString(),
    undoOf: target.runId,
    ops,
  }).catch(async (error: unknown) => {
    await releaseLock(journalDir, runId);
    throw error;
  });
  const executor = new Executor(journal, options);
  let reversed = 0;
  try {
    reversed = await executeUndoOps(ops, new Set(), executor, problems);
    journal.append({ type: 'commit', at: new Date().toISOString() });
    executor.probe('commit');
    await cleanTrash(journalDir, target.runId, problems);
  } finally {
    journal.close();
    await releaseLock(journalDir, runId);
  }
  for (const problem of problems) (options.logger ?? silentLogger).warn(`organize undo: ${problem}`);
  return { runId, undoneRunId: target.runId, reversed, problems };
}

/** Why there is nothing to undo, for the message. */
export function noRunToUndo(runs: readonly RunInfo[], journalDir: string): string {
  const organizeRuns = runs.filter((run) => run.begin.kind === 'organize' && run.committed);
  if (organizeRuns.length === 0) return `no organize run to undo in ${journalDir}`;
  return `no organize run to undo in ${journalDir}: every run that changed something is undone already, the others changed nothing (see \`civitscraper organize --list\`)`;
}

/**
 * A record after a move-mode run: its file, sidecar and preview paths where they now are (the
 * hashes stay valid: the bytes did not change).
 */
export function relocateRecord(record: ModelRecord, relocation: Relocation): ModelRecord {
  const moved = new Map(relocation.files.map((file) => [path.resolve(file.from), file.to]));
  const to = (file: string) => moved.get(path.resolve(file)) ?? file;
  const newPath = to(record.file.path);
  const file = { ...record.file, path: newPath, name: path.basename(newPath) };
  const relative = record.file.relativePath.split('/');
  const inputRoot = path.resolve(path.dirname(record.file.path), ...relative.slice(0, -1).map(() => '..'));
  if (isInside(inputRoot, newPath)) {
    file.relativePath = path.relative(inputRoot, newPath).split(path.sep).join('/');
    file.folder = path.posix.dirname(file.relativePath) === '.' ? '' : path.posix.dirname(file.relativePath);
  }
  return {
    ...record,
    file,
    ...(record.sidecarPath ? { sidecarPath: to(record.sidecarPath) } : {}),
    images: record.images.map((image) => ({ ...image, path: to(image.path) })),
  };
}
