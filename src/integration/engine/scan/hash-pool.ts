/**
 * Hashes many files at once on worker threads, one file per thread at a time (each read is
 * large and sequential); tiny files go to a thread many to a message, since a message's round
 * trip costs the calling thread more than hashing a file of a few KB. Scheduling keeps small
 * files from waiting behind a huge one: when there are two or more threads, one lane prefers
 * large files (largest first) and the others prefer small ones (smallest first) until the small
 * files left are needed to even out the end; a lane with nothing of its kind takes the other
 * kind, so a library of only checkpoints still uses every core. `maxParallelLarge: 1` limits
 * large files to one reader (spinning disks, NAS).
 *
 * Without `threads`, a first batch of only a few small files (a library of embeddings, a rerun's
 * new files) is hashed on the calling thread: starting the threads costs more than hashing them.
 * They start as soon as more work arrives than that. A `threads` count given has them from the
 * first file (`scanner.hash_threads`).
 *
 * When worker threads cannot start — the module was bundled so `hash-worker.ts` is not beside it,
 * or this Node cannot run TypeScript in a worker — the pool hashes on the calling thread instead
 * (two lanes, so small files still pass large ones) and says so once through the logger.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HashType } from '../records/schema.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import { blake3Backend, hashFile, type Blake3Backend, type HashResult } from './hash.ts';
import { ModelFileError } from './safetensors.ts';

export interface HashJob {
  path: string;
  types: readonly HashType[];
  /** For safetensors: 8 + header length (enables AutoV3). */
  tensorOffset?: number;
  /** File size, for scheduling (DiscoveredFile.size). Unknown sizes count as small. */
  size?: number;
}

export interface HashPoolOptions {
  /** Worker threads, from the first file on; default: available cores, at most 8, once the work is worth them. */
  threads?: number;
  /** Files at least this big go to the large-file lane (default 256 MiB). */
  largeFileBytes?: number;
  /** At most this many large files are read at once (default: all threads). */
  maxParallelLarge?: number;
  /** Aborting it cancels every queued and running job (Ctrl-C). */
  signal?: AbortSignal;
  /** `auto` (default): workers, in-thread when they cannot start. */
  mode?: 'auto' | 'in-thread';
  logger?: Logger;
}

export type HashPoolMode = 'workers' | 'in-thread';

export interface HashPool {
  readonly threads: number;
  /** Starts the threads now (they start on the first job otherwise) and tells how the pool runs. */
  ready(): Promise<{ mode: HashPoolMode; blake3: Blake3Backend }>;
  /**
   * Hashes one file; rejects with the signal's reason when cancelled. `onProgress` hears the
   * bytes of this file hashed so far while it is read (hash.ts: PROGRESS_EVERY_MS).
   */
  hash(job: HashJob, options?: { signal?: AbortSignal; onProgress?: (bytesDone: number) => void }): Promise<HashResult>;
  /** Files finished and bytes read so far; messages with files posted to worker threads. */
  readonly stats: { files: number; bytesRead: number; messages: number };
  /** Cancels what is left and stops the threads. */
  close(): Promise<void>;
}

/** Messages between the pool and hash-worker.ts. */
export type WorkerRequest =
  /** Hashed one after the other; answered with one `settled` once all are. */
  | { type: 'hash'; jobs: WorkerJob[] }
  | { type: 'cancel'; id: number };
export interface WorkerJob {
  id: number;
  path: string;
  types: readonly HashType[];
  tensorOffset?: number;
}
export type WorkerOutcome =
  | { id: number; result: HashResult }
  | { id: number; error: { name: string; message: string; code?: string } };
export type WorkerReply =
  | { type: 'ready'; blake3: Blake3Backend }
  | { type: 'progress'; id: number; bytes: number }
  | { type: 'settled'; outcomes: WorkerOutcome[] };

export const DEFAULT_LARGE_FILE_BYTES = 256 * 1024 * 1024;
/**
 * Work hashed on the calling thread before any worker starts (mode `auto`). Starting two
 * threads costs about as much CPU as hashing a few hundred tiny files here, or tens of MB.
 */
export const IN_THREAD_MAX_FILES = 512;
export const IN_THREAD_MAX_BYTES = 64 * 1024 * 1024;
/** Files this small are read with blocking calls on this thread: a read costs less than the round trips. */
const BLOCKING_READ_MAX_BYTES = 1024 * 1024;
const MAX_DEFAULT_THREADS = 8;
/**
 * Files up to this size go to a thread several to a message: at most BATCH_MAX_FILES of them
 * and BATCH_MAX_BYTES in all, so a batch is hashed in a few ms and its results are not late.
 */
const BATCH_FILE_MAX_BYTES = 256 * 1024;
const BATCH_MAX_FILES = 64;
const BATCH_MAX_BYTES = 4 * 1024 * 1024;
const WORKER_START_TIMEOUT_MS = 30_000;

export function defaultHashThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), MAX_DEFAULT_THREADS));
}

interface Task {
  id: number;
  job: HashJob;
  large: boolean;
  resolve: (result: HashResult) => void;
  reject: (error: unknown) => void;
  settled: boolean;
  cleanup: () => void;
  /** In-thread mode only. */
  controller?: AbortController;
  onProgress?: (bytesDone: number) => void;
}

interface Lane {
  prefersLarge: boolean;
  worker?: Worker;
  /** What it is hashing: a batch of tiny files on a worker, else one file. */
  busy?: Task[];
  /** Not usable (its worker died and could not be replaced). */
  dead: boolean;
  starting: boolean;
}

export function createHashPool(options: HashPoolOptions = {}): HashPool {
  const logger = options.logger ?? silentLogger;
  const threads = Math.max(1, Math.floor(options.threads ?? defaultHashThreads()));
  const largeFileBytes = options.largeFileBytes ?? DEFAULT_LARGE_FILE_BYTES;
  const maxParallelLarge = Math.max(1, options.maxParallelLarge ?? threads);
  const poolSignal = options.signal;

  // Pending tasks as heaps (a library's 50,000 files arrive a few at a time: keeping one array
  // sorted by sorting it on each arrival was quadratic). Equal sizes: the last submitted first.
  const small = new TaskHeap((a, b) => sizeOf(a) < sizeOf(b) || (sizeOf(a) === sizeOf(b) && a.id > b.id)); // smallest first
  const large = new TaskHeap((a, b) => sizeOf(a) > sizeOf(b) || (sizeOf(a) === sizeOf(b) && a.id > b.id)); // largest first
  let incoming: Task[] = [];
  let lanes: Lane[] = [];
  let mode: HashPoolMode | undefined;
  let starting: Promise<void> | undefined;
  /** Hashing on this thread only until the work outgrows it (then the threads start). */
  let provisional = false;
  let provisionalFiles = 0;
  let provisionalBytes = 0;
  /** Set once the provisional start is outgrown (or `ready()` asked): threads from then on. */
  let threadsWanted = false;
  /** The calling thread's lanes of a provisional start, still finishing their files. */
  let retired: Lane[] = [];
  let closed = false;
  let pumpScheduled = false;
  let nextId = 1;
  /** Bytes of the small files waiting (cancelled ones count until they are dropped). */
  let queuedSmallBytes = 0;
  let workerBlake3: Blake3Backend = blake3Backend();
  const stats = { files: 0, bytesRead: 0, messages: 0 };

  const abortReason = (signal: AbortSignal | undefined): unknown =>
    signal?.reason ?? new DOMException('The operation was aborted', 'AbortError');

  /** Whether `tasks` still fit on the calling thread, with what it took on so far. */
  const fitsInThread = (tasks: readonly Task[]): boolean => {
    let files = provisionalFiles;
    let bytes = provisionalBytes;
    for (const task of tasks) {
      if (task.job.size === undefined) return false;
      files += 1;
      bytes += task.job.size;
    }
    return files <= IN_THREAD_MAX_FILES && bytes <= IN_THREAD_MAX_BYTES;
  };

  const takeOnProvisionally = (tasks: readonly Task[]) => {
    provisionalFiles += tasks.length;
    for (const task of tasks) provisionalBytes += task.job.size ?? 0;
  };

  /** `eager`: `ready()` asked for the threads, whatever the work. */
  const start = (eager = false): Promise<void> => {
    starting ??= (async () => {
      // Beside this module: hash-worker.ts from the sources, hash-worker.js in the package.
      const url = new URL(`./hash-worker${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);
      const canSpawn = options.mode !== 'in-thread' && url.protocol === 'file:' && existsSync(fileURLToPath(url));
      if (canSpawn && !eager && !threadsWanted && options.threads === undefined && fitsInThread(incoming)) {
        takeOnProvisionally(incoming);
        useInThreadLanes();
        provisional = true;
        logger.debug(`hash pool: small files, hashed on this thread (worker threads start past ${IN_THREAD_MAX_FILES} files or ${IN_THREAD_MAX_BYTES / 1024 / 1024} MiB)`);
        return;
      }
      if (canSpawn) {
        const candidates: Lane[] = Array.from({ length: threads }, () => ({ prefersLarge: false, dead: false, starting: true }));
        const started = await Promise.all(candidates.map((lane) => spawn(lane, url)));
        lanes = candidates.filter((_, index) => started[index]);
        if (lanes.length > 0) {
          mode = 'workers';
          logger.debug(`hash pool: ${lanes.length} worker threads (${path.basename(fileURLToPath(url))})`);
        } else {
          logger.warn('hash pool: worker threads could not start; hashing on the main thread instead');
        }
      } else if (options.mode !== 'in-thread') {
        logger.debug(`hash pool: ${url.href} is not a file beside this module (bundled?); hashing on the main thread`);
      }
      if (mode !== 'workers') useInThreadLanes();
      if (lanes.length > 1 && lanes[0]) lanes[0].prefersLarge = true;
    })();
    return starting;
  };

  const useInThreadLanes = () => {
    mode = 'in-thread';
    workerBlake3 = blake3Backend();
    lanes = Array.from({ length: Math.min(2, threads) }, () => ({ prefersLarge: false, dead: false, starting: false }));
    if (lanes.length > 1 && lanes[0]) lanes[0].prefersLarge = true;
  };

  /** Starts a worker for `lane`; true once it said it is ready. */
  const spawn = (lane: Lane, url: URL): Promise<boolean> =>
    new Promise((resolve) => {
      let worker: Worker;
      try {
        worker = new Worker(url);
      } catch (error) {
        logger.debug(`hash pool: cannot start a worker: ${(error as Error).message}`);
        resolve(false);
        return;
      }
      lane.worker = worker;
      lane.starting = true;
      const timer = setTimeout(() => {
        logger.debug('hash pool: a worker did not start in time');
        void worker.terminate();
      }, WORKER_START_TIMEOUT_MS);
      timer.unref();
      worker.on('message', (message: WorkerReply) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          lane.starting = false;
          workerBlake3 = message.blake3;
          worker.unref();
          resolve(true);
          return;
        }
        const tasks = lane.busy;
        if (!tasks) return;
        if (message.type === 'progress') {
          const task = tasks.find((each) => each.id === message.id);
          if (task && !task.settled) task.onProgress?.(message.bytes);
          return;
        }
        lane.busy = undefined;
        // While closing, terminate() is pending and only a ref'd worker keeps Node waiting for it.
        if (!closed) worker.unref();
        const byId = new Map(tasks.map((task) => [task.id, task]));
        for (const outcome of message.outcomes) {
          const task = byId.get(outcome.id);
          if (!task) continue;
          if ('result' in outcome) {
            stats.files += 1;
            stats.bytesRead += outcome.result.bytesRead;
            settle(task, 'resolve', outcome.result);
          } else {
            settle(task, 'reject', rebuildError(outcome.error));
          }
        }
        schedulePump();
      });
      const onDeath = (error: unknown) => {
        clearTimeout(timer);
        if (lane.worker !== worker) return;
        lane.worker = undefined;
        if (lane.starting) {
          lane.starting = false;
          logger.debug(`hash pool: worker failed to start: ${describe(error)}`);
          resolve(false);
          return;
        }
        const tasks = lane.busy ?? [];
        lane.busy = undefined;
        for (const task of tasks) settle(task, 'reject', new Error(`the hashing thread stopped: ${describe(error)}`));
        if (closed) return;
        // Replace the thread; a lane whose replacement cannot start is dropped.
        void spawn(lane, url).then((ok) => {
          if (!ok) lane.dead = true;
          if (mode === 'workers' && lanes.every((each) => each.dead)) {
            logger.warn('hash pool: worker threads keep failing; hashing on the main thread instead');
            useInThreadLanes();
          }
          schedulePump();
        });
      };
      worker.on('error', onDeath);
      worker.on('exit', (code) => onDeath(new Error(`exit code ${code}`)));
    });

  /** The provisional start is outgrown: the threads start, the files in hand here finish here. */
  const startThreadsAfterAll = () => {
    provisional = false;
    threadsWanted = true;
    retired = lanes.filter((lane) => lane.busy);
    lanes = [];
    mode = undefined;
    starting = undefined;
  };

  const settle = (task: Task, how: 'resolve' | 'reject', value: unknown) => {
    if (task.settled) return;
    task.settled = true;
    task.cleanup();
    if (how === 'resolve') task.resolve(value as HashResult);
    else task.reject(value);
  };

  const schedulePump = () => {
    if (pumpScheduled) return;
    pumpScheduled = true;
    // A microtask later, so a burst of submissions is sorted before the first one starts.
    queueMicrotask(() => {
      pumpScheduled = false;
      void start().then(pump);
    });
  };

  const enqueueIncoming = () => {
    if (incoming.length === 0) return;
    for (const task of incoming) {
      (task.large ? large : small).push(task);
      if (!task.large) queuedSmallBytes += task.job.size ?? 0;
    }
    incoming = [];
  };

  const takeFrom = (queue: TaskHeap): Task | undefined => {
    while (queue.size > 0) {
      const task = queue.pop() as Task;
      if (queue === small) queuedSmallBytes -= task.job.size ?? 0;
      if (!task.settled) return task;
    }
    return undefined;
  };

  const take = (lane: Lane): Task | undefined => {
    const largeRunning = lanes.filter((each) => each.busy?.[0]?.large).length;
    const largeAllowed = largeRunning < maxParallelLarge;
    if (largeAllowed && (lane.prefersLarge || keepSmallForTheEnd())) {
      const task = takeFrom(large);
      if (task) return task;
    }
    return takeFrom(small) ?? (largeAllowed ? takeFrom(large) : undefined);
  };

  // A small-file lane that eats every small file first leaves the large ones for the end, where
  // they cannot be shared out: with a 1.2 GB and two 0.45 GB files, one thread idles for 0.3 GB.
  // So once the small files left weigh no more than the largest waiting file, the lane takes
  // large files and the small ones fill the gaps at the end.
  const keepSmallForTheEnd = (): boolean => {
    if (lanes.length < 2) return false;
    const largest = large.peek()?.job.size ?? 0;
    return largest > 0 && queuedSmallBytes <= largest;
  };

  const batchable = (task: Task | undefined): task is Task =>
    task !== undefined && task.job.size !== undefined && task.job.size <= BATCH_FILE_MAX_BYTES;

  /** More tiny files to go with `first` to a worker: the smallest waiting, a lane's share of them. */
  const batchAfter = (first: Task): Task[] => {
    const batch = [first];
    if (mode !== 'workers' || first.large || !batchable(first)) return batch;
    const free = Math.max(1, lanes.filter((each) => !each.busy && !each.dead && !each.starting).length);
    const most = Math.min(BATCH_MAX_FILES, Math.ceil((small.size + 1) / free));
    let bytes = sizeOf(first);
    while (batch.length < most && bytes < BATCH_MAX_BYTES) {
      const next = small.peek();
      if (!next) break;
      // A cancelled one is dropped; the next one waiting is looked at again.
      if (!next.settled && (!batchable(next) || bytes + sizeOf(next) > BATCH_MAX_BYTES)) break;
      small.pop();
      queuedSmallBytes -= sizeOf(next);
      if (next.settled) continue;
      batch.push(next);
      bytes += sizeOf(next);
    }
    return batch;
  };

  const pump = () => {
    if (closed) return;
    enqueueIncoming();
    for (const lane of lanes) {
      if (lane.busy || lane.dead || lane.starting) continue;
      if (mode === 'workers' && !lane.worker) continue;
      const task = take(lane);
      if (!task) continue;
      run(lane, batchAfter(task));
    }
  };

  const run = (lane: Lane, tasks: Task[]) => {
    lane.busy = tasks;
    if (mode === 'workers' && lane.worker) {
      lane.worker.ref();
      const request: WorkerRequest = {
        type: 'hash',
        jobs: tasks.map((task) => ({ id: task.id, path: task.job.path, types: task.job.types, tensorOffset: task.job.tensorOffset })),
      };
      lane.worker.postMessage(request);
      stats.messages += 1;
      return;
    }
    const task = tasks[0] as Task;
    const controller = new AbortController();
    task.controller = controller;
    hashFile(task.job.path, {
      types: task.job.types,
      tensorOffset: task.job.tensorOffset,
      signal: controller.signal,
      ...(task.job.size !== undefined && task.job.size <= BLOCKING_READ_MAX_BYTES ? { blockingReads: true } : {}),
      ...(task.onProgress ? { onProgress: (bytes: number) => !task.settled && task.onProgress?.(bytes) } : {}),
    }).then(
      (result) => {
        stats.files += 1;
        stats.bytesRead += result.bytesRead;
        settle(task, 'resolve', result);
      },
      (error: unknown) => settle(task, 'reject', error),
    ).finally(() => {
      if (lane.busy?.[0] === task) lane.busy = undefined;
      retired = retired.filter((each) => each.busy);
      schedulePump();
    });
  };

  /** Rejects a task now; a running one is also stopped (its lane frees up when the thread answers). */
  const cancel = (task: Task, reason: unknown) => {
    if (task.settled) return;
    const lane = lanes.find((each) => each.busy?.includes(task)) ?? retired.find((each) => each.busy?.includes(task));
    if (lane?.worker) {
      const request: WorkerRequest = { type: 'cancel', id: task.id };
      lane.worker.postMessage(request);
    }
    task.controller?.abort(reason);
    settle(task, 'reject', reason);
  };

  const cancelAll = (reason: unknown) => {
    for (const task of [...incoming, ...small.drain(), ...large.drain()]) cancel(task, reason);
    for (const lane of [...lanes, ...retired]) for (const task of lane.busy ?? []) cancel(task, reason);
    incoming = [];
    queuedSmallBytes = 0;
  };

  const onPoolAbort = () => cancelAll(abortReason(poolSignal));
  poolSignal?.addEventListener('abort', onPoolAbort, { once: true });

  return {
    threads,
    get stats() {
      return { ...stats };
    },
    async ready() {
      if (provisional) startThreadsAfterAll();
      await start(true);
      return { mode: mode ?? 'in-thread', blake3: workerBlake3 };
    },
    hash(job, callOptions = {}) {
      const signal = callOptions.signal;
      if (closed) return Promise.reject(new Error('the hash pool is closed'));
      if (poolSignal?.aborted) return Promise.reject(abortReason(poolSignal));
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      return new Promise<HashResult>((resolve, reject) => {
        const onAbort = () => cancel(task, abortReason(signal));
        const task: Task = {
          id: nextId++,
          job,
          large: (job.size ?? 0) >= largeFileBytes,
          resolve,
          reject,
          settled: false,
          cleanup: () => signal?.removeEventListener('abort', onAbort),
          ...(callOptions.onProgress ? { onProgress: callOptions.onProgress } : {}),
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        incoming.push(task);
        if (provisional) {
          if (fitsInThread([task])) takeOnProvisionally([task]);
          else startThreadsAfterAll();
        }
        schedulePump();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      cancelAll(new Error('the hash pool was closed'));
      poolSignal?.removeEventListener('abort', onPoolAbort);
      await starting?.catch(() => undefined);
      // An idle worker is unref'd; the pending terminate() alone does not keep the event loop
      // alive, so Node could exit (code 13) before the await settles. Ref it until it is gone.
      await Promise.all(
        lanes.map((lane) => {
          lane.worker?.ref();
          return lane.worker?.terminate();
        }),
      );
    },
  };
}

export interface HashManyOutcome {
  job: HashJob;
  result?: HashResult;
  error?: unknown;
}

/**
 * Hashes every job through the pool; `onResult` sees each outcome as it lands (smallest files
 * first). Resolves when all are settled; a cancelled run settles the rest with the abort reason.
 */
export async function hashMany(
  pool: HashPool,
  jobs: readonly HashJob[],
  options: { signal?: AbortSignal; onResult?: (outcome: HashManyOutcome) => void } = {},
): Promise<HashManyOutcome[]> {
  return Promise.all(
    jobs.map(async (job) => {
      let outcome: HashManyOutcome;
      try {
        outcome = { job, result: await pool.hash(job, { signal: options.signal }) };
      } catch (error) {
        outcome = { job, error };
      }
      options.onResult?.(outcome);
      return outcome;
    }),
  );
}

function rebuildError(error: { name: string; message: string; code?: string }): Error {
  if (error.name === 'ModelFileError') return new ModelFileError(error.message);
  if (error.name === 'AbortError') return new DOMException(error.message, 'AbortError');
  const rebuilt = new Error(error.message) as Error & { code?: string };
  rebuilt.name = error.name;
  if (error.code) rebuilt.code = error.code;
  return rebuilt;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const sizeOf = (task: Task) => task.job.size ?? 0;

/** A binary heap of tasks: `before(a, b)` when `a` runs first. */
class TaskHeap {
  #items: Task[] = [];
  readonly #before: (a: Task, b: Task) => boolean;

  constructor(before: (a: Task, b: Task) => boolean) {
    this.#before = before;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): Task | undefined {
    return this.#items[0];
  }

  push(task: Task): void {
    const items = this.#items;
    items.push(task);
    let at = items.length - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.#before(items[at] as Task, items[parent] as Task)) break;
      [items[at], items[parent]] = [items[parent] as Task, items[at] as Task];
      at = parent;
    }
  }

  pop(): Task | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let at = 0;
      for (;;) {
        const left = 2 * at + 1;
        const right = left + 1;
        let first = at;
        if (left < items.length && this.#before(items[left] as Task, items[first] as Task)) first = left;
        if (right < items.length && this.#before(items[right] as Task, items[first] as Task)) first = right;
        if (first === at) break;
        [items[at], items[first]] = [items[first] as Task, items[at] as Task];
        at = first;
      }
    }
    return top;
  }

  /** Everything left, emptying the heap. */
  drain(): Task[] {
    const items = this.#items;
    this.#items = [];
    return items;
  }
}
