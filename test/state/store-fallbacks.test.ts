/**
 * A cache folder or state store that fails never stops a job: the run writes every sidecar it
 * would have written and says, naming the file, that it goes on without the store.
 *
 * - a store whose tables have the wrong shape (a `ledger` without `dev`) is set aside and
 *   rebuilt like a damaged one;
 * - a regular file where `scanner.cache_dir` should be: no store, no lock, the run goes on;
 * - the disk failing during the run (SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY from the hash
 *   stage on, injected into node:sqlite): one warning, then no more store calls;
 * - a real "disk full" for the process (`ulimit -f`: every write past 64 KiB fails with EFBIG)
 *   in a child process.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { openStateStore, STATE_FILE_NAME } from '../../src/integration/engine/state/index.ts';
import type { Logger } from '../../src/integration/engine/util/logger.ts';
import { checkStateStore, copyLibrary, createHardeningWorkspace, type HardeningWorkspace } from '../hardening/helpers.ts';

const CHILD = path.join(import.meta.dirname, 'run-child.ts');
const JOB = { output: { images: { save: false } } };
const sqlite = process.getBuiltinModule('node:sqlite');

let ws: HardeningWorkspace;
/** What a run with a healthy store writes. */
let reference: { sidecars: number; records: number };

function capture(): Logger & { warnings: string[]; lines: string[] } {
  const warnings: string[] = [];
  const lines: string[] = [];
  return {
    warnings,
    lines,
    debug() {},
    info: (message) => lines.push(message),
    warn: (message) => {
      warnings.push(message);
      lines.push(message);
    },
    error: (message) => warnings.push(message),
  };
}

beforeAll(async () => {
  ws = await createHardeningWorkspace('cs-store-fallbacks-');
  const setup = await copyLibrary(ws, 'reference', { job: JOB });
  const { report, records } = await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name });
  reference = { sidecars: report.sidecars.written, records: records.length };
  expect(reference.sidecars).toBeGreaterThan(5);
});
afterAll(async () => {
  await ws?.close();
  if (ws) await rm(ws.root, { recursive: true, force: true });
});

/** Replaces the store's tables by ones of another shape, as an old or foreign program might leave them. */
function reshape(file: string, sql: string): void {
  const db = new sqlite.DatabaseSync(file);
  db.exec(sql);
  db.close();
}

describe('a store with tables of the wrong shape', () => {
  it('is set aside and rebuilt (a ledger without `dev`, a missing table)', async () => {
    const setup = await copyLibrary(ws, 'shape-unit', { job: JOB });
    const file = path.join(setup.cacheDir, STATE_FILE_NAME);
    openStateStore(setup.cacheDir).close();
    reshape(file, 'DROP TABLE ledger; CREATE TABLE ledger (ino TEXT, size INTEGER, path TEXT, hashes TEXT); DROP TABLE runs;');
    const logger = capture();
    const store = openStateStore(setup.cacheDir, { logger });
    try {
      expect(store.kind).toBe('sqlite');
      expect(logger.warnings).toHaveLength(1);
      expect(logger.warnings[0]).toMatch(/was damaged \(wrong table shape: table ledger has no column dev, .*table runs is missing\); moved it to .*state\.sqlite\.corrupt-/);
      expect(readdirSync(setup.cacheDir).filter((name) => name.includes('.corrupt-'))).toHaveLength(1);
      store.ledger.remember({ dev: 1, ino: 2, size: 3, mtimeMs: 0 }, '/x', { SHA256: 'A'.repeat(64) }, { hashedAt: 10_000 });
      expect(store.ledger.count()).toBe(1);
    } finally {
      store.close();
    }
  });

  it('a database of another program (schema 0, its own `ledger` table) is set aside too', async () => {
    const setup = await copyLibrary(ws, 'shape-foreign', { job: JOB });
    await mkdir(setup.cacheDir, { recursive: true });
    reshape(path.join(setup.cacheDir, STATE_FILE_NAME), 'CREATE TABLE ledger (entry TEXT, amount REAL);');
    const logger = capture();
    const store = openStateStore(setup.cacheDir, { logger });
    try {
      expect(store.kind).toBe('sqlite');
      expect(logger.warnings[0]).toMatch(/was damaged \(wrong table shape: .*\); moved it to /);
      expect(store.ledger.count()).toBe(0);
    } finally {
      store.close();
    }
  });

  it('does not stop the job: every sidecar is written and the store works again afterwards', async () => {
    const setup = await copyLibrary(ws, 'shape-run', { job: JOB });
    const file = path.join(setup.cacheDir, STATE_FILE_NAME);
    openStateStore(setup.cacheDir).close();
    reshape(file, 'DROP TABLE ledger; CREATE TABLE ledger (ino TEXT PRIMARY KEY, size INTEGER, mtime_ms REAL, path TEXT, hashes TEXT, source TEXT, hashed_at INTEGER, seen_at INTEGER, training TEXT);');
    const logger = capture();
    const { report, records } = await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name, logger });
    expect(report.sidecars.written).toBe(reference.sidecars);
    expect(records).toHaveLength(reference.records);
    expect(logger.warnings.join('\n')).toMatch(/state store .*state\.sqlite was damaged \(wrong table shape: table ledger has no column dev\)/);
    expect(checkStateStore(setup.cacheDir).integrity).toBe('ok');
    // The rebuilt store is a real one: the next run reads nothing.
    const again = await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name });
    expect(again.report.hash.bytes).toBe(0);
    expect(again.report.api.requests).toBe(0);
  });
});

describe('a regular file where the cache folder should be', () => {
  it('the run goes on without store and lock, writes every sidecar and names the path', async () => {
    const setup = await copyLibrary(ws, 'file-cache', { job: JOB });
    await writeFile(setup.cacheDir, 'not a folder');
    const logger = capture();
    const { report, records } = await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name, logger });
    expect(report.sidecars.written).toBe(reference.sidecars);
    expect(records).toHaveLength(reference.records);
    const warnings = logger.warnings.join('\n');
    expect(warnings).toContain(`cannot write the lock file ${path.join(setup.cacheDir, '.civitscraper.lock')}`);
    expect(warnings).toContain(`state store ${path.join(setup.cacheDir, STATE_FILE_NAME)} cannot be used`);
    expect(await readFile(setup.cacheDir, 'utf8')).toBe('not a folder');
  });
});

/** node:sqlite's write paths fail with `errcode` once armed; counts every call that still reaches SQLite. */
function injectDiskFailure(errcode: number, errstr: string) {
  const statement = sqlite.StatementSync.prototype;
  const database = sqlite.DatabaseSync.prototype;
  const original = { run: statement.run, get: statement.get, all: statement.all, exec: database.exec };
  const state = { armed: false, failures: 0, writesAfterFailure: 0, readsAfterFailure: 0, readsAfterArming: 0 };
  const fail = () => {
    state.failures += 1;
    return Object.assign(new Error(errstr), { code: 'ERR_SQLITE_ERROR', errcode, errstr });
  };
  const read = () => {
    if (state.armed) state.readsAfterArming += 1;
    if (state.failures > 0) state.readsAfterFailure += 1;
  };
  statement.run = function run(this: unknown, ...args: unknown[]) {
    if (state.failures > 0) state.writesAfterFailure += 1;
    if (state.armed) throw fail();
    return (original.run as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof statement.run;
  statement.get = function get(this: unknown, ...args: unknown[]) {
    read();
    return (original.get as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof statement.get;
  statement.all = function all(this: unknown, ...args: unknown[]) {
    read();
    return (original.all as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof statement.all;
  database.exec = function exec(this: InstanceType<typeof sqlite.DatabaseSync>, sql: string) {
    if (state.armed && /^\s*(BEGIN|COMMIT)/i.test(sql)) {
      if (state.failures > 0) state.writesAfterFailure += 1;
      throw fail();
    }
    return original.exec.call(this, sql);
  };
  return {
    state,
    restore() {
      Object.assign(statement, { run: original.run, get: original.get, all: original.all });
      database.exec = original.exec;
    },
  };
}

describe('the disk fails under the store during the run', () => {
  let injected: ReturnType<typeof injectDiskFailure> | undefined;
  afterEach(() => {
    injected?.restore();
    injected = undefined;
  });

  // Full or read-only: what the store knows is still read, nothing more is written. An I/O error: nothing more at all.
  for (const [name, errcode, errstr, reads] of [
    ['SQLITE_FULL', 13, 'database or disk is full', 'still read'],
    ['SQLITE_READONLY', 8, 'attempt to write a readonly database', 'still read'],
    ['SQLITE_IOERR_WRITE', 778, 'disk I/O error', 'not read'],
  ] as const) {
    it(`${name} from the hash stage on: one warning naming the store, every sidecar written, no more writes, the store ${reads}`, async () => {
      const setup = await copyLibrary(ws, `disk-${name}`, { job: JOB });
      injected = injectDiskFailure(errcode, errstr);
      const { state } = injected;
      const logger = capture();
      // Armed when hashing is done: the lookups, their cache and their bookkeeping hit a failing disk.
      const armOnHash: Logger = { ...logger, info: (message) => {
        logger.info(message);
        if (/^hash:/.test(message)) state.armed = true;
      } };
      const { report, records } = await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name, logger: armOnHash });
      expect(state.armed).toBe(true);
      expect(state.failures).toBeGreaterThan(0);
      expect(report.sidecars.written).toBe(reference.sidecars);
      expect(records).toHaveLength(reference.records);
      const file = path.join(setup.cacheDir, STATE_FILE_NAME);
      const storeWarnings = logger.warnings.filter((warning) => warning.includes('state store'));
      expect(storeWarnings).toHaveLength(1);
      expect(storeWarnings[0]).toContain(`state store ${file}:`);
      expect(storeWarnings[0]).toContain(errstr);
      expect(storeWarnings[0]).toMatch(reads === 'still read' ? /going on without saving to the store for the rest of this run/ : /going on without the store for the rest of this run/);
      expect(state.writesAfterFailure, 'writes tried after the store gave up').toBe(0);
      if (reads === 'not read') expect(state.readsAfterFailure, 'reads after the store gave up').toBe(0);
      else expect(state.readsAfterFailure, 'reads after the store stopped writing').toBeGreaterThan(0);
      injected.restore();
      // The store is intact and holds nothing of what the lookups learned (the 404s of this run).
      const store = checkStateStore(setup.cacheDir);
      expect(store.integrity).toBe('ok');
      expect(store.notFound).toEqual([]);
    });
  }
});

describe('a cache folder on a full disk (ulimit -f: writes past 64 KiB fail with EFBIG)', () => {
  it('the run writes every sidecar, says once that it goes on without the store, and the store stays intact', async () => {
    const setup = await copyLibrary(ws, 'full-disk', { job: JOB });
    await mkdir(setup.cacheDir, { recursive: true });
    const out = path.join(ws.root, 'full-disk.json');
    const child = spawn('bash', ['-c', 'ulimit -f 64 && exec "$0" "$@"', process.execPath, CHILD, setup.configFile, out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr.slice(-2000)).toBe(0);
    const result = JSON.parse(await readFile(out, 'utf8')) as { warnings: string[]; report: { sidecars: { written: number } }; records: unknown[] };
    expect(result.report.sidecars.written).toBe(reference.sidecars);
    expect(result.records).toHaveLength(reference.records);
    const file = path.join(setup.cacheDir, STATE_FILE_NAME);
    const storeWarnings = result.warnings.filter((warning) => warning.includes('state store'));
    expect(storeWarnings).toHaveLength(1);
    expect(storeWarnings[0]).toMatch(new RegExp(`^state store ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .* failed \\(.*\\); going on without the store for the rest of this run`));
    expect(existsSync(file)).toBe(true);
    expect(checkStateStore(setup.cacheDir).integrity).toBe('ok');
  });
});
