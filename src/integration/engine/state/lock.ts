/**
 * One run at a time per cache folder: an advisory lock file, `.civitscraper.lock` under
 * `scanner.cache_dir`, holding the holder's pid, host name and start time. Two runs on one
 * library (a CLI scan and an `astro build`, two terminals, cron) would otherwise hash the same
 * files, ask CivitAI the same questions and download the same previews twice.
 *
 * - Created atomically (written beside it, then hard-linked into place, which fails if it
 *   exists; `wx` on file systems without hard links), so readers never see half a lock.
 * - A second run waits for the first, with a message, up to a bounded time
 *   (`CIVITSCRAPER_LOCK_WAIT` seconds, default 10 minutes), then gives up with
 *   `CacheLockedError`: nothing done, the holder named.
 * - A stale lock is taken over with a warning: same host and the pid is gone (or now belongs to
 *   a process started after the lock was written, or is this very process from an earlier
 *   life, as in a restarted container). A lock of another host is respected unless its holder
 *   has not refreshed it (every minute) for an hour.
 * - Released in `finally` by the caller and, should the process exit without it, on `exit`.
 * - Within one process, runs on the same cache queue up (the Astro integration runs its jobs
 *   one after the other; two builds in one dev server must not deadlock on their own lock).
 *   Inside `withCacheLock` (a command that must see one state over several runs, as the
 *   library report), the runs it starts on the same cache go on under its lock.
 * - A cache folder where no lock can be written (read-only, full, a file in its place) does not
 *   stop the run: it goes on unlocked and says so, as the store goes on in memory.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import { silentLogger, type Logger } from '../util/logger.ts';

export const LOCK_FILE_NAME = '.civitscraper.lock';
/** Seconds a run waits for another one to finish before it gives up (environment). */
export const LOCK_WAIT_ENV = 'CIVITSCRAPER_LOCK_WAIT';
export const DEFAULT_LOCK_WAIT_MS = 10 * 60_000;
/** A lock of another host that was not refreshed for this long is taken over. */
export const FOREIGN_LOCK_STALE_MS = 60 * 60_000;
/** How often the holder refreshes its lock's mtime (its sign of life for other hosts). */
export const LOCK_HEARTBEAT_MS = 60_000;
/** An unreadable (empty, half-written by a foreign tool) lock younger than this is waited for. */
const UNREADABLE_GRACE_MS = 10_000;
/** Pid reuse: a process started this long after the lock was written cannot be its holder. */
const PID_REUSE_SLACK_MS = 60_000;

export interface LockHolder {
  pid: number;
  hostname: string;
  /** Epoch ms. */
  startedAt: number;
  /** Identifies this holding (a pid alone is reused). */
  token: string;
  job?: string;
}

export interface CacheLock {
  /** The lock file (held or not). */
  readonly file: string;
  /** False when the folder could not hold a lock and the run goes on without one. */
  readonly held: boolean;
  /** Removes the lock (if still ours) and lets the next run of this process go. Idempotent. */
  release(): void;
}

export interface AcquireCacheLockOptions {
  logger?: Logger;
  /** Default: `CIVITSCRAPER_LOCK_WAIT` seconds, else 10 minutes. 0: fail at once. */
  waitMs?: number;
  /** How often a waiting run looks again (default 500 ms). */
  pollMs?: number;
  /** Default one hour. */
  foreignStaleMs?: number;
  /** Default one minute. */
  heartbeatMs?: number;
  /** Stops the wait (Ctrl-C): rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Written into the lock, for the message of whoever waits. */
  job?: string;
}

/** Another run held the cache for longer than this one would wait. */
export class CacheLockedError extends Error {
  override name = 'CacheLockedError';
  readonly file: string;
  readonly holder: LockHolder | undefined;
  constructor(message: string, file: string, holder: LockHolder | undefined) {
    super(message);
    this.file = file;
    this.holder = holder;
  }
}

interface ProcessLocks {
  /** Per cache folder: settles when the last run queued in this process is done. */
  tails: Map<string, Promise<void>>;
  /** Per cache folder: the token of the lock this process holds. */
  held: Map<string, string>;
  /** The locks held by `withCacheLock` around the code running now, by cache folder. */
  scope?: AsyncLocalStorage<ReadonlyMap<string, CacheLock>>;
}

/** Shared by every copy of this module in the process (sources and dist, Vite's SSR graph). */
const REGISTRY = Symbol.for('civitscraper.cacheLocks');

function registry(): ProcessLocks {
  const holder = globalThis as Record<symbol, ProcessLocks | undefined>;
  holder[REGISTRY] ??= { tails: new Map(), held: new Map() };
  holder[REGISTRY].scope ??= new AsyncLocalStorage();
  return holder[REGISTRY];
}

/**
 * Runs `fn` holding the lock of `cacheDir` from start to end; the lock is taken as
 * acquireCacheLock takes it (and fails the same way). Runs started inside `fn` on the same
 * folder (acquireCacheLock) go on under this lock instead of queueing behind it.
 */
export async function withCacheLock<T>(cacheDir: string, options: AcquireCacheLockOptions, fn: (lock: CacheLock) => Promise<T>): Promise<T> {
  const lock = await acquireCacheLock(cacheDir, options);
  try {
    const scope = registry().scope as AsyncLocalStorage<ReadonlyMap<string, CacheLock>>;
    const held = new Map(scope.getStore() ?? []).set(path.resolve(cacheDir), lock);
    return await scope.run(held, () => fn(lock));
  } finally {
    lock.release();
  }
}

/** The wait configured by `CIVITSCRAPER_LOCK_WAIT` (seconds), else the default. */
export function lockWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[LOCK_WAIT_ENV]?.trim();
  if (!raw) return DEFAULT_LOCK_WAIT_MS;
  const seconds = Number(raw);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : DEFAULT_LOCK_WAIT_MS;
}

/**
 * Takes the lock of `cacheDir` for one run: waits for runs of this process on the same folder,
 * then for the lock file. Throws CacheLockedError when another run still holds it after the wait,
 * the signal's reason when aborted; never for a folder that cannot hold a lock.
 */
export async function acquireCacheLock(cacheDir: string, options: AcquireCacheLockOptions = {}): Promise<CacheLock> {
  const logger = options.logger ?? silentLogger;
  const dir = path.resolve(cacheDir);
  const file = path.join(dir, LOCK_FILE_NAME);
  const locks = registry();
  const outer = locks.scope?.getStore()?.get(dir);
  // Inside withCacheLock on this folder: its holder releases it.
  if (outer) return { file: outer.file, held: outer.held, release: () => undefined };

  // 1. This process: queue behind the runs started before this one on the same folder.
  const ahead = locks.tails.get(dir);
  let endTurn!: () => void;
  const turn = new Promise<void>((resolve) => (endTurn = resolve));
  const tail = (ahead ?? Promise.resolve()).then(() => turn);
  locks.tails.set(dir, tail);
  let turnEnded = false;
  const leaveQueue = () => {
    if (turnEnded) return;
    turnEnded = true;
    endTurn();
    if (locks.tails.get(dir) === tail) locks.tails.delete(dir);
  };
  try {
    if (ahead) {
      logger.info(`another run of this process uses ${dir}; waiting for it to finish`);
      await abortable(ahead, options.signal);
    }
    options.signal?.throwIfAborted();
    const held = await acquireFile(dir, file, logger, options);
    if (!held) return { file, held: false, release: leaveQueue };
    return holding(dir, file, held, options.heartbeatMs ?? LOCK_HEARTBEAT_MS, leaveQueue, logger);
  } catch (error) {
    leaveQueue();
    throw error;
  }
}

/** The lock file: ours (its holder record), or undefined when the folder cannot hold one. */
async function acquireFile(dir: string, file: string, logger: Logger, options: AcquireCacheLockOptions): Promise<LockHolder | undefined> {
  const waitMs = options.waitMs ?? lockWaitMs();
  const pollMs = Math.max(10, options.pollMs ?? 500);
  const foreignStaleMs = options.foreignStaleMs ?? FOREIGN_LOCK_STALE_MS;
  const deadline = Date.now() + waitMs;
  const host = osHostname();
  const me: LockHolder = {
    pid: process.pid,
    hostname: host,
    startedAt: Date.now(),
    token: randomBytes(8).toString('hex'),
    ...(options.job !== undefined ? { job: options.job } : {}),
  };
  const unlocked = (error: unknown) => {
    logger.warn(
      `cannot write the lock file ${file} (${describe(error)}); going on without it: ` +
        'another run on this cache at the same time is not prevented',
    );
    return undefined;
  };
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    return unlocked(error);
  }
  let announced: string | undefined;
  /** Attempts in a row that retried at once (a lock that vanished, one taken over): a few are normal. */
  let spins = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    if (spins > 10) {
      await sleep(pollMs, options.signal);
      spins = 0;
    }
    let cannotWrite: unknown;
    try {
      me.startedAt = Date.now();
      createExclusive(file, `${JSON.stringify(me)}\n`);
      if (announced) logger.info(`the other run has finished; ${file} is ours now`);
      return me;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') cannotWrite = error;
    }
    const found = readLock(file);
    if (!found) {
      if (cannotWrite !== undefined) return unlocked(cannotWrite);
      spins += 1;
      continue; // Released between our attempt and the read: try again at once.
    }
    const verdict = judge(found, host, foreignStaleMs);
    if (verdict.stale) {
      // A folder we cannot write to: a live holder is still waited for, a stale one is ignored.
      if (cannotWrite !== undefined) return unlocked(cannotWrite);
      if (takeOver(file, found)) {
        logger.warn(`taking over the lock ${file}: ${verdict.why}`);
      } else if (Date.now() >= deadline) {
        throw new CacheLockedError(`cannot take over the stale lock ${file} (${verdict.why}); delete it and run again`, file, found.holder);
      }
      spins += 1;
      continue;
    }
    spins = 0;
    const who = describeHolder(found.holder, file);
    if (Date.now() >= deadline) {
      const waited = announced ? ` after waiting ${formatDuration(waitMs)}` : '';
      throw new CacheLockedError(
        `${who} still holds ${dir}${waited}; this run did nothing. Run it again when the other one has finished ` +
          `(or, if no civitscraper run is going on${found.holder && found.holder.hostname !== host ? ` on ${found.holder.hostname}` : ''}, delete ${file}). ` +
          `--lock-wait SECONDS (or ${LOCK_WAIT_ENV}) sets how long to wait.`,
        file,
        found.holder,
      );
    }
    if (announced !== found.raw) {
      announced = found.raw;
      const foreign = found.holder && found.holder.hostname !== host
        ? ` (on another machine: taken over if it is not refreshed for ${formatDuration(foreignStaleMs)})`
        : '';
      logger.warn(`${who} holds ${dir}; waiting… (up to ${formatDuration(Math.max(0, deadline - Date.now()))})${foreign}`);
    }
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())), options.signal);
  }
}

function holding(dir: string, file: string, me: LockHolder, heartbeatMs: number, leaveQueue: () => void, logger: Logger): CacheLock {
  const locks = registry();
  locks.held.set(dir, me.token);
  const heartbeat = setInterval(() => {
    try {
      const now = new Date();
      if (readLock(file)?.holder?.token === me.token) utimesSync(file, now, now);
    } catch {
      // A sign of life for other hosts only; the next beat tries again.
    }
  }, heartbeatMs);
  heartbeat.unref();
  let released = false;
  const removeFile = () => {
    try {
      if (readLock(file)?.holder?.token === me.token) unlinkSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn(`cannot remove the lock file ${file} (${describe(error)}); the next run takes it over`);
    }
  };
  const onExit = () => removeFile();
  process.on('exit', onExit);
  return {
    file,
    held: true,
    release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      process.removeListener('exit', onExit);
      if (locks.held.get(dir) === me.token) locks.held.delete(dir);
      removeFile();
      leaveQueue();
    },
  };
}

/** Writes `content` to `file` only if no file is there, all at once. */
function createExclusive(file: string, content: string): void {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temp, content, { flag: 'wx' });
  try {
    linkSync(temp, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw error;
    // No hard links here (FAT, some network shares): exclusive create, then the content.
    writeFileSync(file, content, { flag: 'wx' });
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // Already gone.
    }
  }
}

interface FoundLock {
  raw: string;
  holder: LockHolder | undefined;
  mtimeMs: number;
  /** With `raw`, tells this very file from a new lock written in its place. */
  ino: number;
}

/** The lock as it is now; undefined when there is none. */
function readLock(file: string): FoundLock | undefined {
  let info: { mtimeMs: number; ino: number };
  try {
    info = statSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { raw: `unreadable (${errorCode(error)})`, holder: undefined, mtimeMs: Date.now(), ino: -1 };
  }
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // Unreadable to us (its mode): judged by its age, like a lock being written.
    raw = `unreadable (${errorCode(error)})`;
  }
  return { raw, holder: parseHolder(raw), mtimeMs: info.mtimeMs, ino: info.ino };
}

function parseHolder(raw: string): LockHolder | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || typeof value.hostname !== 'string' || typeof value.startedAt !== 'number') return undefined;
    return {
      pid: value.pid,
      hostname: value.hostname,
      startedAt: value.startedAt,
      token: typeof value.token === 'string' ? value.token : '',
      ...(typeof value.job === 'string' ? { job: value.job } : {}),
    };
  } catch {
    return undefined;
  }
}

function judge(found: FoundLock, host: string, foreignStaleMs: number): { stale: false } | { stale: true; why: string } {
  const { holder } = found;
  const since = (at: number) => formatTime(at);
  if (!holder) {
    if (Date.now() - found.mtimeMs < UNREADABLE_GRACE_MS) return { stale: false };
    return { stale: true, why: `it is not a lock this program wrote (unreadable since ${since(found.mtimeMs)})` };
  }
  const who = `pid ${holder.pid} on ${holder.hostname}, since ${since(holder.startedAt)}`;
  if (holder.hostname !== host) {
    const quiet = Date.now() - Math.max(found.mtimeMs, holder.startedAt);
    if (quiet > foreignStaleMs) return { stale: true, why: `its holder (${who}) has not refreshed it for ${formatDuration(quiet)}` };
    return { stale: false };
  }
  if (holder.pid === process.pid) {
    // Runs of this process queue before they get here, so this is ours from an earlier life (a restarted container reuses pids), or another thread's.
    const processStart = Date.now() - process.uptime() * 1000;
    if (holder.startedAt < processStart - 1000) return { stale: true, why: `it was left by an earlier process with this pid (${who})` };
    return { stale: false };
  }
  if (!isAlive(holder.pid)) return { stale: true, why: `its holder (${who}) is no longer running` };
  const started = processStartTime(holder.pid);
  if (started !== undefined && started > holder.startedAt + PID_REUSE_SLACK_MS) {
    return { stale: true, why: `its holder (${who}) is no longer running (pid ${holder.pid} is another program now)` };
  }
  return { stale: false };
}

/** Moves the stale lock out of the way, unless it changed since it was judged (then it is put back). */
function takeOver(file: string, judged: FoundLock): boolean {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, aside);
  } catch {
    return false; // Someone else got there first.
  }
  const moved = readLock(aside);
  const same = moved !== undefined && moved.ino === judged.ino && moved.raw === judged.raw;
  if (!same && moved !== undefined) {
    // A run took the lock between our look and our move: give it back.
    try {
      linkSync(aside, file);
    } catch {
      if (!existsSync(file)) {
        try {
          renameSync(aside, file);
          return false;
        } catch {
          // Nothing more to do.
        }
      }
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // Already gone.
  }
  return same;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** When a process started (epoch ms), from /proc on Linux; undefined elsewhere. */
function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, in clock ticks since boot) counted after the command's closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const boot = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
    if (!Number.isFinite(ticks) || boot === undefined) return undefined;
    // USER_HZ is 100 on every Linux that Node runs on.
    return Number(boot) * 1000 + (ticks / 100) * 1000;
  } catch {
    return undefined;
  }
}

function describeHolder(holder: LockHolder | undefined, file: string): string {
  if (!holder) return `another civitscraper run (lock ${file} is being written)`;
  return `another civitscraper run (pid ${holder.pid} on ${holder.hostname}, since ${formatTime(holder.startedAt)}${holder.job ? `, job "${holder.job}"` : ''})`;
}

function formatTime(at: number): string {
  return new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? describe(error);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortable(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
