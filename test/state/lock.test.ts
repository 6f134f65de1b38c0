/**
 * The cache lock on its own: one holder at a time, stale locks taken over (dead pid on this
 * host, silent holder on another host), live ones waited for and then refused with a clear
 * message, runs of one process queued instead of deadlocked, the lock gone when the process
 * exits, and a folder that cannot hold a lock never stopping the run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireCacheLock, CacheLockedError, LOCK_FILE_NAME, lockWaitMs } from '../../src/integration/engine/state/index.ts';
import type { Logger } from '../../src/integration/engine/util/logger.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  return { lines, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}

/** A pid that was running a moment ago and is not any more. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

async function writeLock(cache: string, holder: Record<string, unknown>): Promise<string> {
  await mkdir(cache, { recursive: true });
  const file = path.join(cache, LOCK_FILE_NAME);
  await writeFile(file, `${JSON.stringify(holder)}\n`);
  return file;
}

describe('cache lock', () => {
  it('writes pid, host and start time, and removes the lock on release', async () => {
    const cache = path.join(dir, 'cache');
    const lock = await acquireCacheLock(cache, { job: 'main' });
    expect(lock.held).toBe(true);
    const holder = JSON.parse(await readFile(path.join(cache, LOCK_FILE_NAME), 'utf8'));
    expect(holder).toMatchObject({ pid: process.pid, hostname: hostname(), job: 'main' });
    expect(typeof holder.startedAt).toBe('number');
    lock.release();
    lock.release();
    expect(existsSync(path.join(cache, LOCK_FILE_NAME))).toBe(false);
    // Nothing else is left behind (no temp file of the atomic create).
    expect(await readdir(cache)).toEqual([]);
  });

  it('takes over a lock whose holder on this host is gone, and says so', async () => {
    const cache = path.join(dir, 'cache');
    const pid = deadPid();
    await writeLock(cache, { pid, hostname: hostname(), startedAt: Date.now() - 60_000, token: 'old' });
    const logger = capture();
    const lock = await acquireCacheLock(cache, { logger, waitMs: 0 });
    expect(lock.held).toBe(true);
    expect(logger.lines.join('\n')).toMatch(new RegExp(`warn taking over the lock .*${LOCK_FILE_NAME}: its holder \\(pid ${pid} on ${hostname()}, since .*\\) is no longer running`));
    expect(JSON.parse(await readFile(lock.file, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('waits for a live holder, then gives up with a message naming it', async () => {
    const cache = path.join(dir, 'cache');
    // Another machine's run that refreshed its lock a moment ago.
    const startedAt = Date.parse('2030-01-02T03:04:05Z');
    const file = await writeLock(cache, { pid: 4242, hostname: 'nas-box', startedAt, token: 'theirs', job: 'nightly' });
    const logger = capture();
    const error = await acquireCacheLock(cache, { logger, waitMs: 300, pollMs: 20 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CacheLockedError);
    const message = (error as Error).message;
    expect(message).toContain('another civitscraper run (pid 4242 on nas-box, since 2030-01-02 03:04:05 UTC, job "nightly") still holds');
    expect(message).toContain(cache);
    expect(message).toContain(file);
    expect(logger.lines.filter((line) => line.includes('waiting…'))).toHaveLength(1);
    expect(logger.lines.join('\n')).toMatch(/another civitscraper run \(pid 4242 on nas-box, since .*\) holds .*; waiting… \(up to \d+ ms\) \(on another machine/);
    // Their lock is untouched.
    expect(JSON.parse(await readFile(file, 'utf8')).token).toBe('theirs');
  });

  it('a live holder on this host (a running process) is waited for too', async () => {
    const cache = path.join(dir, 'cache');
    const sleeper = spawn('sleep', ['30']);
    try {
      await writeLock(cache, { pid: sleeper.pid, hostname: hostname(), startedAt: Date.now(), token: 'theirs' });
      const error = await acquireCacheLock(cache, { waitMs: 100, pollMs: 20 }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CacheLockedError);
      expect((error as Error).message).toContain(`pid ${sleeper.pid} on ${hostname()}`);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('takes over a lock of another host that was not refreshed for longer than the limit', async () => {
    const cache = path.join(dir, 'cache');
    const file = await writeLock(cache, { pid: 4242, hostname: 'nas-box', startedAt: Date.now() - 3 * 3600_000, token: 'theirs' });
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(file, old, old);
    const logger = capture();
    const lock = await acquireCacheLock(cache, { logger, waitMs: 0 });
    expect(lock.held).toBe(true);
    expect(logger.lines.join('\n')).toMatch(/taking over the lock .*its holder \(pid 4242 on nas-box, .*\) has not refreshed it for 2 h/);
    lock.release();
  });

  it('queues two holders in one process instead of deadlocking, in order', async () => {
    const cache = path.join(dir, 'cache');
    const order: string[] = [];
    const first = await acquireCacheLock(cache, { waitMs: 0 });
    const logger = capture();
    const second = acquireCacheLock(cache, { logger, waitMs: 0 }).then((lock) => {
      order.push('second acquired');
      return lock;
    });
    const third = acquireCacheLock(cache, { waitMs: 0 }).then((lock) => {
      order.push('third acquired');
      return lock;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(order).toEqual([]);
    expect(logger.lines.join('\n')).toMatch(/another run of this process uses .*; waiting for it to finish/);
    order.push('first released');
    first.release();
    const secondLock = await second;
    expect(order).toEqual(['first released', 'second acquired']);
    secondLock.release();
    (await third).release();
    expect(order).toEqual(['first released', 'second acquired', 'third acquired']);
    expect(existsSync(path.join(cache, LOCK_FILE_NAME))).toBe(false);
  });

  it('a waiting run stops on its abort signal and lets the next one go', async () => {
    const cache = path.join(dir, 'cache');
    const first = await acquireCacheLock(cache);
    const controller = new AbortController();
    const waiting = acquireCacheLock(cache, { signal: controller.signal });
    const after = acquireCacheLock(cache);
    controller.abort(new DOMException('stop', 'AbortError'));
    await expect(waiting).rejects.toThrow('stop');
    first.release();
    (await after).release();
  });

  it('is removed when the process exits without releasing it', async () => {
    const cache = path.join(dir, 'cache');
    const module = path.resolve('src/integration/engine/state/lock.ts');
    const script = `
      const { acquireCacheLock } = await import(${JSON.stringify(module)});
      const lock = await acquireCacheLock(${JSON.stringify(cache)});
      process.stdout.write(String(lock.held));
      process.exit(0);
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('true');
    expect(existsSync(path.join(cache, LOCK_FILE_NAME))).toBe(false);
  });

  it('a folder that cannot hold a lock (a file in its place) does not stop the run', async () => {
    const blocker = path.join(dir, 'cache');
    await writeFile(blocker, 'a file where the cache folder should be');
    const logger = capture();
    const lock = await acquireCacheLock(blocker, { logger, waitMs: 0 });
    expect(lock.held).toBe(false);
    expect(logger.lines.join('\n')).toMatch(new RegExp(`warn cannot write the lock file ${blocker}/${LOCK_FILE_NAME.replace('.', '\\.')} .*going on without it`));
    lock.release();
    // The next run in this process is not kept waiting by it.
    (await acquireCacheLock(blocker, { waitMs: 0 })).release();
  });

  it('a lock that is not ours (garbage) is waited for while fresh, taken over once old', async () => {
    const cache = path.join(dir, 'cache');
    await mkdir(cache, { recursive: true });
    const file = path.join(cache, LOCK_FILE_NAME);
    await writeFile(file, 'garbage');
    const fresh = await acquireCacheLock(cache, { waitMs: 50, pollMs: 10 }).catch((caught: unknown) => caught);
    expect(fresh).toBeInstanceOf(CacheLockedError);
    expect((fresh as Error).message).toContain('is being written');
    const old = new Date(Date.now() - 60_000);
    await utimes(file, old, old);
    const logger = capture();
    const lock = await acquireCacheLock(cache, { logger, waitMs: 0 });
    expect(lock.held).toBe(true);
    expect(logger.lines.join('\n')).toMatch(/taking over the lock .*: it is not a lock this program wrote/);
    lock.release();
  });

  it('processes started together over a stale lock hold it one at a time, each exactly once', async () => {
    const cache = path.join(dir, 'cache');
    await writeLock(cache, { pid: deadPid(), hostname: hostname(), startedAt: Date.now() - 60_000, token: 'old' });
    const module = path.resolve('src/integration/engine/state/lock.ts');
    const log = path.join(dir, 'holdings.log');
    const script = `
      const { appendFileSync } = await import('node:fs');
      const { acquireCacheLock } = await import(${JSON.stringify(module)});
      const lock = await acquireCacheLock(${JSON.stringify(cache)}, { waitMs: 60_000, pollMs: 5 });
      appendFileSync(${JSON.stringify(log)}, 'start ' + process.pid + '\\n');
      await new Promise((resolve) => setTimeout(resolve, 30));
      appendFileSync(${JSON.stringify(log)}, 'end ' + process.pid + '\\n');
      lock.release();
    `;
    const children = Array.from({ length: 6 }, () => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] }));
    const codes = await Promise.all(children.map((child) => new Promise((resolve) => child.on('close', resolve))));
    expect(codes).toEqual([0, 0, 0, 0, 0, 0]);
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(12);
    // Strictly alternating: a start is always followed by the end of the same process.
    for (let index = 0; index < lines.length; index += 2) {
      expect(lines[index]?.startsWith('start ')).toBe(true);
      expect(lines[index + 1]).toBe(lines[index]?.replace('start', 'end'));
    }
    expect(new Set(lines.map((line) => line.split(' ')[1])).size).toBe(6);
    // No lock, no temp file of an atomic create, no stale lock moved aside is left.
    expect(await readdir(cache)).toEqual([]);
  });

  it('reads the wait from CIVITSCRAPER_LOCK_WAIT (seconds)', () => {
    expect(lockWaitMs({ CIVITSCRAPER_LOCK_WAIT: '2.5' })).toBe(2500);
    expect(lockWaitMs({ CIVITSCRAPER_LOCK_WAIT: '0' })).toBe(0);
    expect(lockWaitMs({ CIVITSCRAPER_LOCK_WAIT: 'soon' })).toBe(10 * 60_000);
    expect(lockWaitMs({})).toBe(10 * 60_000);
  });
});
