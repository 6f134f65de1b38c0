/**
 * The run journal: one append-only JSON-lines file per run, `<journalDir>/<runId>.jsonl`.
 *
 *   {"type":"begin","format":1,"kind":"organize"|"undo",…}      the run's parameters (undo: its ops)
 *   {"type":"intent","seq":3,"unit":0,"op":{…}}                 fsync'd before the operation starts
 *   {"type":"done","seq":3,"result":{…}}                        fsync'd after it completed
 *   {"type":"failed","seq":3,"error":"…"}                       it failed (undo runs go on)
 *   {"type":"reverted","seq":3}                                 reversed (unit failure or rollback)
 *   {"type":"commit"}                                           every operation settled
 *   {"type":"purged"}                                           the overwritten files were deleted
 *   {"type":"rolled-back"}                                      recovery reversed the run
 *
 * A line is written with one write() and the file fsync'd before the caller goes on, so after a
 * crash the file ends with whole lines, possibly followed by one torn line, which is ignored.
 * `<runId>.lock` (pid + host) marks a run that is still executing.
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsyncDir, isCode, OrganizeError } from './fsops.ts';
import type { Op, OpResult } from './ops.ts';

export const JOURNAL_FORMAT = 1;

export type RunKind = 'organize' | 'undo';

export interface BeginEntry {
  type: 'begin';
  format: number;
  kind: RunKind;
  runId: string;
  startedAt: string;
  mode?: string;
  onCollision?: string;
  keepTrash?: boolean;
  /** undo runs: the run they reverse, and every operation they will execute (in order). */
  undoOf?: string;
  ops?: Array<{ seq: number; unit: number; op: Op }>;
}

export type JournalEntry =
  | BeginEntry
  | { type: 'intent'; seq: number; unit: number; op: Op }
  | { type: 'done'; seq: number; result?: OpResult }
  | { type: 'failed'; seq: number; error: string }
  | { type: 'reverted'; seq: number }
  /** `counts`: the organize run's unit outcomes (absent in journals written before it was added). */
  | { type: 'commit'; at: string; counts?: Partial<Record<'done' | 'in-place' | 'skipped' | 'failed', number>> }
  | { type: 'purged'; at: string }
  | { type: 'rolled-back'; at: string };

export interface OpState {
  seq: number;
  unit: number;
  op: Op;
  done: boolean;
  result?: OpResult;
  failed?: string;
  reverted: boolean;
}

export interface RunInfo {
  runId: string;
  file: string;
  begin: BeginEntry;
  ops: OpState[];
  committed: boolean;
  /** What the commit line says the run did per model (organize runs that recorded it). */
  commitCounts?: Partial<Record<'done' | 'in-place' | 'skipped' | 'failed', number>>;
  purged: boolean;
  rolledBack: boolean;
  /** The last line was cut short by a crash (ignored). */
  torn: boolean;
}

let lastRunTime = 0;

/** Sortable and strictly increasing within a process: `2026-08-22T10-11-12-345Z-a1b2c3`. */
export function newRunId(now = Date.now()): string {
  lastRunTime = Math.max(now, lastRunTime + 1);
  return `${new Date(lastRunTime).toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
}

export function journalPath(journalDir: string, runId: string): string {
  return path.join(journalDir, `${runId}.jsonl`);
}

export function trashDir(journalDir: string, runId: string): string {
  return path.join(journalDir, `${runId}.trash`);
}

export class JournalWriter {
  readonly file: string;
  #fd: number | undefined;

  private constructor(file: string, fd: number) {
    this.file = file;
    this.#fd = fd;
  }

  static async create(journalDir: string, begin: BeginEntry): Promise<JournalWriter> {
    await mkdir(journalDir, { recursive: true });
    const file = journalPath(journalDir, begin.runId);
    const writer = new JournalWriter(file, openSync(file, 'wx'));
    writer.append(begin);
    await fsyncDir(journalDir);
    return writer;
  }

  /** Reopens an existing journal to append (recovery, undo bookkeeping). */
  static open(file: string): JournalWriter {
    return new JournalWriter(file, openSync(file, 'a'));
  }

  append(entry: JournalEntry): void {
    if (this.#fd === undefined) throw new Error('journal is closed');
    const line = Buffer.from(`${JSON.stringify(entry)}\n`, 'utf8');
    let offset = 0;
    while (offset < line.length) offset += writeSync(this.#fd, line, offset, line.length - offset);
    fdatasyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

export async function readRun(file: string): Promise<RunInfo> {
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  let torn = last !== '';
  const entries: JournalEntry[] = [];
  lines.forEach((line, index) => {
    if (line === '') return;
    try {
      entries.push(JSON.parse(line) as JournalEntry);
    } catch {
      // A torn final write can only be the last line; anything else is corruption.
      if (index === lines.length - 1 && last === '') torn = true;
      else throw new OrganizeError('JOURNAL', `${file}: line ${index + 1} is not valid JSON; the journal is damaged`);
    }
  });
  const begin = entries[0];
  if (!begin || begin.type !== 'begin') throw new OrganizeError('JOURNAL', `${file} does not start with a run header`);
  if (begin.format !== JOURNAL_FORMAT) throw new OrganizeError('JOURNAL', `${file} has journal format ${begin.format}, expected ${JOURNAL_FORMAT}`);
  const ops = new Map<number, OpState>();
  const info: RunInfo = {
    runId: begin.runId,
    file,
    begin,
    ops: [],
    committed: false,
    purged: false,
    rolledBack: false,
    torn,
  };
  for (const entry of entries.slice(1)) {
    switch (entry.type) {
      case 'intent':
        ops.set(entry.seq, { seq: entry.seq, unit: entry.unit, op: entry.op, done: false, reverted: false });
        break;
      case 'done': {
        const state = ops.get(entry.seq);
        if (state) {
          state.done = true;
          state.result = entry.result;
          state.failed = undefined;
        }
        break;
      }
      case 'failed': {
        const state = ops.get(entry.seq);
        if (state) state.failed = entry.error;
        break;
      }
      case 'reverted': {
        const state = ops.get(entry.seq);
        if (state) state.reverted = true;
        break;
      }
      case 'commit':
        info.committed = true;
        if (entry.counts) info.commitCounts = entry.counts;
        break;
      case 'purged':
        info.purged = true;
        break;
      case 'rolled-back':
        info.rolledBack = true;
        break;
      default:
        break;
    }
  }
  info.ops = [...ops.values()].sort((a, b) => a.seq - b.seq);
  return info;
}

/** Every run in the journal folder, oldest first. */
export async function listRuns(journalDir: string): Promise<RunInfo[]> {
  let names: string[];
  try {
    names = await readdir(journalDir);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return [];
    throw error;
  }
  const runs = await Promise.all(
    names.filter((name) => name.endsWith('.jsonl')).map((name) => readRun(path.join(journalDir, name))),
  );
  // Run ids start with their UTC start time, so their order is the order the runs started in.
  return runs.sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
}

export function isSettled(run: RunInfo): boolean {
  return run.committed || run.rolledBack;
}

/** True when some operation of the run completed and was not reversed: it changed the disk. */
export function changedSomething(run: RunInfo): boolean {
  return run.ops.some((state) => state.done && !state.reverted);
}

export interface RunSummary {
  runId: string;
  kind: RunKind;
  startedAt: string;
  /** organize runs: the operation mode. */
  mode?: string;
  state: 'committed' | 'rolled-back' | 'incomplete';
  /**
   * Models (a model and its sidecars count once) by what happened to them. `failed` also counts
   * models refused at planning (target taken under `on_collision: fail`), when the journal says.
   */
  counts: { moved: number; copied: number; linked: number; failed: number };
  /** undo runs: the run they reversed, and how many operations they reversed. */
  undoOf?: string;
  reversed?: number;
  /** organize runs: a committed undo run reversed it. */
  undone: boolean;
  undoneBy?: string;
}

const VERB: Partial<Record<Op['kind'], keyof RunSummary['counts']>> = { move: 'moved', copy: 'copied', symlink: 'linked', hardlink: 'linked' };

export function summarizeRun(run: RunInfo, undoneBy?: string): RunSummary {
  const counts = { moved: 0, copied: 0, linked: 0, failed: 0 };
  const units = new Map<number, OpState[]>();
  for (const state of run.ops) units.set(state.unit, [...(units.get(state.unit) ?? []), state]);
  let failedUnits = 0;
  if (run.begin.kind === 'organize') {
    for (const states of units.values()) {
      // The operation that placed the model's file (the first file operation that is not a trash move).
      const placed = states.find((state) => VERB[state.op.kind] && !(state.op.kind === 'move' && state.op.trash));
      if (placed && placed.done && !placed.reverted) counts[VERB[placed.op.kind] as keyof typeof counts] += 1;
      else if (states.some((state) => state.reverted || state.failed !== undefined)) failedUnits += 1;
    }
  }
  counts.failed = run.commitCounts?.failed ?? failedUnits;
  return {
    runId: run.runId,
    kind: run.begin.kind,
    startedAt: run.begin.startedAt,
    ...(run.begin.mode ? { mode: run.begin.mode } : {}),
    state: run.committed ? 'committed' : run.rolledBack ? 'rolled-back' : 'incomplete',
    counts,
    ...(run.begin.kind === 'undo'
      ? { undoOf: run.begin.undoOf, reversed: run.ops.filter((state) => state.done).length }
      : {}),
    undone: undoneBy !== undefined,
    ...(undoneBy ? { undoneBy } : {}),
  };
}

/** Every run in the journal folder, newest first, with what it did and whether it was undone. */
export async function summarizeRuns(journalDir: string): Promise<RunSummary[]> {
  const runs = await listRuns(journalDir);
  const undoneBy = new Map<string, string>();
  for (const run of runs) if (run.begin.kind === 'undo' && run.committed && run.begin.undoOf) undoneBy.set(run.begin.undoOf, run.runId);
  return runs.map((run) => summarizeRun(run, undoneBy.get(run.runId))).reverse();
}

interface LockBody {
  pid: number;
  host: string;
}

export async function acquireLock(journalDir: string, runId: string): Promise<void> {
  await mkdir(journalDir, { recursive: true });
  await writeFile(path.join(journalDir, `${runId}.lock`), JSON.stringify({ pid: process.pid, host: hostname() } satisfies LockBody), {
    flag: 'wx',
  });
}

export async function releaseLock(journalDir: string, runId: string): Promise<void> {
  await rm(path.join(journalDir, `${runId}.lock`), { force: true });
}

/** True when the run's process is still alive on this machine (its lock is not stale). */
export async function isRunning(journalDir: string, runId: string): Promise<boolean> {
  let body: LockBody;
  try {
    body = JSON.parse(await readFile(path.join(journalDir, `${runId}.lock`), 'utf8')) as LockBody;
  } catch {
    return false;
  }
  if (body.host !== hostname()) return true; // another machine: we cannot tell, so never touch it
  if (body.pid === process.pid) return true;
  try {
    process.kill(body.pid, 0);
    return true;
  } catch (error) {
    return isCode(error, 'EPERM');
  }
}
