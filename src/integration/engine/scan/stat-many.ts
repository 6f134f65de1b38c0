/**
 * `stat` of many paths at once. On a local disk a synchronous stat costs the main thread a few
 * µs where the promise API costs 15–30 µs (the request, its promise, the Stats object), and a
 * rerun over 50,000 models makes 150,000 of them. So paths are stat'ed synchronously in chunks,
 * yielding to the event loop between chunks; when a chunk is slow (a network share, where each
 * stat is a round trip), the rest goes through the thread pool, OPEN_FILES_LIMIT at a time, so
 * the round trips overlap. The answers are the same either way.
 */
import { statSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { BlockingWhileFast } from '../util/blocking-while-fast.ts';
import { mapLimit } from '../util/map-limit.ts';
import { OPEN_FILES_LIMIT } from './safetensors.ts';

/** A path's stat, `undefined` when nothing is there (ENOENT, ENOTDIR), or the error (EACCES, ELOOP, …). */
export type StatOutcome = Stats | undefined | NodeJS.ErrnoException;

const CHUNK = 128;
/**
 * A stat slower than this (a local disk's page cache answers in a few µs) waited for a network
 * share or a disk; when most of a chunk's stats did, the rest go to the thread pool. Counted
 * stat by stat because the time of a whole chunk misjudged a busy machine: being preempted for
 * a few time slices made a chunk slow and sent a local library to the pool at several times
 * the cost.
 */
const SLOW_STAT_MS = 0.1;

export interface Statter {
  (paths: readonly string[]): Promise<StatOutcome[]>;
}

/** A statter remembers that its paths are slow, so later calls go to the thread pool at once. */
export function createStatter(): Statter {
  const state = { slow: false };
  return (paths) => statMany(paths, state, new Array<StatOutcome>(paths.length), asIs);
}

/**
 * Whether each path is a regular file with at least one byte (hasContentStat), 1 or 0, in the
 * paths' order. Each Stats object is dropped as soon as it is answered: an array of 150,000 of
 * them lived until the batch ended, long enough for V8 to move every one to the old generation
 * and collect it there.
 */
export async function contentMany(paths: readonly string[]): Promise<Uint8Array> {
  return statMany(paths, { slow: false }, new Uint8Array(paths.length), contentFlag);
}

/**
 * `answer` of each path's stat, in the paths' order: what a caller keeps of a Stats, taken at
 * once (as contentMany), so the Stats objects die young.
 */
export async function statEach<T>(paths: readonly string[], answer: (outcome: StatOutcome) => T): Promise<T[]> {
  return statMany(paths, { slow: false }, new Array<T>(paths.length), answer);
}

const asIs = (outcome: StatOutcome): StatOutcome => outcome;
const contentFlag = (outcome: StatOutcome): number => (hasContentStat(outcome) ? 1 : 0);

async function statMany<T, A extends { [index: number]: T }>(paths: readonly string[], state: { slow: boolean }, out: A, answer: (outcome: StatOutcome) => T): Promise<A> {
  let index = 0;
  while (!state.slow && index < paths.length) {
    const end = Math.min(paths.length, index + CHUNK);
    let slowStats = 0;
    let before = performance.now();
    const size = end - index;
    for (; index < end; index += 1) {
      out[index] = answer(statOne(paths[index] as string));
      const after = performance.now();
      if (after - before > SLOW_STAT_MS) slowStats += 1;
      before = after;
    }
    if (slowStats * 2 > size) state.slow = true;
    if (index < paths.length) await yieldToEventLoop();
  }
  if (index < paths.length) {
    const rest = Array.from({ length: paths.length - index }, (_, offset) => index + offset);
    await mapLimit(rest, OPEN_FILES_LIMIT, async (at) => {
      out[at] = answer(await stat(paths[at] as string).catch((error: NodeJS.ErrnoException) => (missing(error) ? undefined : error)));
    });
  }
  return out;
}

/** Whether single stats (quickStat) are still made blocking. */
const singles = new BlockingWhileFast(SLOW_STAT_MS);

/**
 * One file's stat, undefined when there is none (or it cannot be stat'ed: a write then says
 * why), by the same rule as a batch: synchronous while stats are fast (a promise stat, or a
 * readFile that fails, is a thread-pool round trip and, for a missing file, an Error with its
 * stack, tens of thousands of times in a first run); once they are slow (a network share), the
 * thread pool, so the event loop never waits for a round trip.
 */
export async function quickStat(file: string): Promise<Stats | undefined> {
  if (singles.slow) return stat(file).catch(() => undefined);
  const outcome = singles.time(() => statOne(file));
  return outcome instanceof Error ? undefined : outcome;
}

/** What `throwIfNoEntry: false` answers with undefined. */
const missing = (error: NodeJS.ErrnoException) => error.code === 'ENOENT' || error.code === 'ENOTDIR';

function statOne(file: string): StatOutcome {
  try {
    return statSync(file, { throwIfNoEntry: false });
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
}

/** A regular file with at least one byte. */
export function hasContentStat(outcome: StatOutcome): boolean {
  return outcome !== undefined && !(outcome instanceof Error) && outcome.isFile() && outcome.size > 0;
}
