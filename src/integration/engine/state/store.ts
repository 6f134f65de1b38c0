/**
 * The persistent state of the engine: one SQLite file (`state.sqlite`) under
 * `scanner.cache_dir`, written through `node:sqlite` in WAL mode. Killing the process at any
 * moment loses at most the statement in flight: every write is its own transaction (or an
 * explicit `transaction()`), and WAL with `synchronous=NORMAL` keeps the file consistent after a
 * crash (after a power cut, the last few commits may be missing, never half-written).
 *
 * The store never takes the engine down: a file that is not a database, fails its integrity
 * check or has tables of the wrong shape is moved aside and rebuilt with a warning; a store that
 * cannot be opened at all (read-only or full folder, a file where the folder should be, another
 * program holding a lock, a store written by a newer CivitScraper) is replaced by an in-memory
 * one for this run, also with a warning; an error in a later statement is logged and the call
 * answers "nothing known". When the disk fails under it during a run (full, I/O error, turned
 * read-only), the store says so once, naming its file, and the run goes on without it.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { silentLogger, type Logger } from '../util/logger.ts';
import { createHttpCache, createNotFoundCache, createRunLog, type HttpCache, type NotFoundCache, type RunLog } from './caches.ts';
import { createLedger, type HashLedger } from './ledger.ts';
import { createRetryBackoff, type RetryBackoff } from './retries.ts';
import { createSidecarStamps, type SidecarStamps } from './sidecar-stamps.ts';

export const STATE_FILE_NAME = 'state.sqlite';

/** Bumped on every change of the tables below; `migrate` brings older stores forward. */
export const SCHEMA_VERSION = 3;

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE IF NOT EXISTS ledger (
      dev TEXT NOT NULL,
      ino TEXT NOT NULL,
      size INTEGER NOT NULL,
      mtime_ms REAL NOT NULL,
      path TEXT NOT NULL,
      hashes TEXT NOT NULL,
      source TEXT NOT NULL,
      hashed_at INTEGER NOT NULL,
      seen_at INTEGER NOT NULL,
      PRIMARY KEY (dev, ino)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS ledger_path ON ledger (path);
    CREATE TABLE IF NOT EXISTS http_cache (
      key TEXT PRIMARY KEY,
      status INTEGER NOT NULL,
      body TEXT NOT NULL,
      fetched_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS not_found (
      sha256 TEXT PRIMARY KEY,
      checked_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS runs (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      job TEXT NOT NULL,
      started_at INTEGER NOT NULL,
      finished_at INTEGER,
      status TEXT NOT NULL,
      summary TEXT
    );
    CREATE INDEX IF NOT EXISTS runs_job ON runs (job, started_at);
  `,
  // The back-off of models a run could not complete (retries.ts). (Version 2 also had the first
  // sidecar stamps, replaced by version 3's: a store below 2 goes straight to those.)
  2: `
    CREATE TABLE IF NOT EXISTS retries (
      key TEXT PRIMARY KEY,
      attempts INTEGER NOT NULL,
      next_at INTEGER NOT NULL
    ) WITHOUT ROWID;
  `,
  // Our sidecars as last written or validated (sidecar-stamps.ts): a rerun over an unchanged
  // library reads none of them. The API bodies (version, parent model) are kept once each, by
  // content, in stamp_bodies, and a rerun parses only the ones somebody reads (records/lazy.ts).
  // Rowid tables: rows of several KB are slow in WITHOUT ROWID tables. Version-2 stamps are
  // dropped (the next run reads every sidecar once and stamps it again). The ledger keeps what
  // a file's header says (`training`), so a rerun reads no header of a file without a stamp.
  3: `
    DROP TABLE IF EXISTS stamp_models;
    DROP TABLE IF EXISTS sidecar_stamps;
    CREATE TABLE sidecar_stamps (
      path TEXT PRIMARY KEY,
      model TEXT NOT NULL,
      sidecar TEXT NOT NULL,
      body TEXT NOT NULL,
      version_key TEXT,
      model_key TEXT,
      stamped_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS stamp_bodies (
      key TEXT PRIMARY KEY,
      body TEXT NOT NULL,
      orphaned_at INTEGER
    );
    ALTER TABLE ledger ADD COLUMN training TEXT;
  `,
};

/** The columns every table must have (more are fine): a store without them is rebuilt. */
const EXPECTED_COLUMNS: Record<string, readonly string[]> = {
  ledger: ['dev', 'ino', 'size', 'mtime_ms', 'path', 'hashes', 'source', 'hashed_at', 'seen_at', 'training'],
  http_cache: ['key', 'status', 'body', 'fetched_at'],
  not_found: ['sha256', 'checked_at'],
  runs: ['id', 'job', 'started_at', 'finished_at', 'status', 'summary'],
  sidecar_stamps: ['path', 'model', 'sidecar', 'body', 'version_key', 'model_key', 'stamped_at'],
  stamp_bodies: ['key', 'body', 'orphaned_at'],
  retries: ['key', 'attempts', 'next_at'],
};

export interface StateStoreOptions {
  logger?: Logger;
  /** Clock in epoch milliseconds; tests inject one. */
  now?: () => number;
  /** File name inside the folder (default `state.sqlite`). */
  fileName?: string;
  /** Milliseconds to wait for another process's write lock before giving up (default 5000). */
  busyTimeoutMs?: number;
}

export interface StateStore {
  /** `sqlite`: the file at `path`; `memory`: this run only (see `warnings`). */
  readonly kind: 'sqlite' | 'memory';
  readonly path: string;
  /** What went wrong while opening (also sent to the logger). */
  readonly warnings: readonly string[];
  readonly ledger: HashLedger;
  readonly cache: HttpCache;
  readonly notFound: NotFoundCache;
  readonly runs: RunLog;
  /** Our sidecars' stamps: what spares reading them on a rerun. */
  readonly sidecars: SidecarStamps;
  /** When an incomplete model (a failed preview) is tried again. */
  readonly retries: RetryBackoff;
  /** Runs `fn` in one transaction (much faster for many writes); nested calls join the outer one. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

/** What the table modules get: the database, the clock and a guard that turns errors into warnings. */
export interface StoreContext {
  db: DatabaseSync;
  /** The database file, for reads after the run closed the store (undefined: in memory). */
  file?: string;
  now: () => number;
  guard<T>(what: string, fallback: T, fn: () => T): T;
}

type SqliteModule = typeof import('node:sqlite');

export class StateStoreUnavailableError extends Error {
  override name = 'StateStoreUnavailableError';
}

/**
 * Opens (creating if needed) the state store in `dir`. Never throws for a damaged or unusable
 * file; throws StateStoreUnavailableError only when this Node has no `node:sqlite` at all
 * (Node < 22.13), so a caller can go on without a store.
 */
export function openStateStore(dir: string, options: StateStoreOptions = {}): StateStore {
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const sqlite = loadSqlite();
  const file = path.resolve(dir, options.fileName ?? STATE_FILE_NAME);
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    logger.warn(message);
  };

  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let db: DatabaseSync | undefined;
  let kind: 'sqlite' | 'memory' = 'sqlite';
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    db = openFile(sqlite, file, busyTimeoutMs);
  } catch (error) {
    if (isCorruption(error)) {
      db = rebuild(sqlite, file, busyTimeoutMs, error, now(), warn);
    } else {
      warn(`state store ${file} cannot be used (${describe(error)}); keeping state in memory for this run`);
    }
  }

  const reported = new Set<string>();
  /**
   * Set when the disk failed under the store. `writes`: full or turned read-only, what the store
   * knows is still read; `all`: I/O errors, damage, every later call answers "nothing known".
   */
  let off: 'writes' | 'all' | undefined;
  const giveUp = (what: string, error: unknown) => {
    const level = diskFailure(error) ?? 'all';
    if (off === 'all' || off === level) return;
    off = level;
    if (isCorruption(error) && kind === 'sqlite') {
      // Damage the check on opening may not cover (integrityCheck): the next open checks it all.
      try {
        writeFileSync(file + FULL_CHECK_SUFFIX, '');
      } catch {
        // The folder is not writable either: the next run meets the damage again and says so.
      }
    }
    logger.warn(
      `state store ${file}: ${what} failed (${describe(error)}${diskHint(error)}); ` +
        (level === 'writes'
          ? 'going on without saving to the store for the rest of this run (what it knows is still used; what this run learns is not kept)'
          : 'going on without the store for the rest of this run (hashes and answers of this run are not kept)'),
    );
  };
  const skipped = (what: string) => off === 'all' || (off === 'writes' && isWrite(what));
  const guard = <T>(what: string, fallback: T, fn: () => T): T => {
    if (skipped(what)) return fallback;
    try {
      return fn();
    } catch (error) {
      if (diskFailure(error)) {
        giveUp(what, error);
      } else if (!reported.has(what)) {
        // One warning per kind of failure, not one per file.
        reported.add(what);
        logger.warn(`state store ${file}: ${what} failed (${describe(error)}); going on without it`);
      }
      return fallback;
    }
  };

  let tables: Tables | undefined;
  if (db) {
    try {
      tables = createTables({ db, file, now, guard });
    } catch (error) {
      // A table of the wrong shape that the check in openFile did not see (a statement fails to prepare).
      db.close();
      db = rebuild(sqlite, file, busyTimeoutMs, error, now(), warn);
      try {
        if (db) tables = createTables({ db, file, now, guard });
      } catch (retryError) {
        db?.close();
        db = undefined;
        warn(`state store ${file} could not be rebuilt (${describe(retryError)}); keeping state in memory for this run`);
      }
    }
  }
  if (!db || !tables) {
    kind = 'memory';
    db = new sqlite.DatabaseSync(':memory:');
    setUp(db);
    tables = createTables({ db, now, guard });
  }

  let depth = 0;
  const database = db;
  return {
    kind,
    path: kind === 'sqlite' ? file : ':memory:',
    warnings,
    ...tables,
    transaction<T>(fn: () => T): T {
      // Without writes, the calls inside answer for themselves (reads run, writes are skipped).
      if (depth > 0 || off !== undefined || !database.isOpen) return fn();
      try {
        database.exec('BEGIN IMMEDIATE');
      } catch (error) {
        if (!diskFailure(error)) throw error;
        giveUp('starting a transaction', error);
        return fn();
      }
      depth += 1;
      let result: T;
      try {
        result = fn();
      } catch (error) {
        try {
          database.exec('ROLLBACK');
        } catch {
          // The transaction is already gone (e.g. the database was closed inside fn).
        }
        throw error;
      } finally {
        depth -= 1;
      }
      try {
        database.exec('COMMIT');
      } catch (error) {
        try {
          database.exec('ROLLBACK');
        } catch {
          // SQLite rolled back already.
        }
        if (!diskFailure(error)) throw error;
        giveUp('a commit', error);
      }
      return result;
    },
    close() {
      if (!database.isOpen) return;
      database.close();
      if (kind === 'sqlite' && off === undefined) markClean(file);
    },
  };
}

type Tables = Pick<StateStore, 'ledger' | 'cache' | 'notFound' | 'runs' | 'sidecars' | 'retries'>;

function createTables(context: StoreContext): Tables {
  return {
    ledger: createLedger(context),
    cache: createHttpCache(context),
    notFound: createNotFoundCache(context),
    runs: createRunLog(context),
    sidecars: createSidecarStamps(context),
    retries: createRetryBackoff(context),
  };
}

/** Moves a damaged store aside and opens a new one; undefined (with a warning) when that fails too. */
function rebuild(
  sqlite: SqliteModule,
  file: string,
  busyTimeoutMs: number,
  error: unknown,
  at: number,
  warn: (message: string) => void,
): DatabaseSync | undefined {
  try {
    const aside = moveAside(file, at);
    const db = openFile(sqlite, file, busyTimeoutMs);
    warn(
      `state store ${file} was damaged (${describe(error)}); moved it to ${aside} and started a new one. ` +
        'Hashes and cached answers will be rebuilt.',
    );
    return db;
  } catch (retryError) {
    warn(
      `state store ${file} is damaged (${describe(error)}) and could not be rebuilt (${describe(retryError)}); ` +
        'keeping state in memory for this run',
    );
    return undefined;
  }
}

function loadSqlite(): SqliteModule {
  let sqlite: SqliteModule | undefined;
  try {
    sqlite = process.getBuiltinModule?.('node:sqlite') as SqliteModule | undefined;
  } catch {
    sqlite = undefined;
  }
  if (!sqlite?.DatabaseSync) {
    throw new StateStoreUnavailableError(
      `this Node.js (${process.version}) has no node:sqlite; the state store needs Node 22.13 or newer`,
    );
  }
  return sqlite;
}

function openFile(sqlite: SqliteModule, file: string, busyTimeoutMs: number): DatabaseSync {
  // Before opening: opening creates the write-ahead log.
  const clean = closedCleanly(file);
  const db = new sqlite.DatabaseSync(file, { timeout: busyTimeoutMs });
  try {
    // Reading the journal mode is the first access to the file: a non-database fails here.
    db.prepare('PRAGMA journal_mode = WAL').get();
    integrityCheck(db, file, clean);
    const { user_version: version } = db.prepare('PRAGMA user_version').get() as { user_version: number };
    if (version > SCHEMA_VERSION) {
      throw new Error(`it was written by a newer CivitScraper (schema ${version}, this one knows ${SCHEMA_VERSION})`);
    }
    try {
      setUp(db, version);
    } catch (error) {
      // SQLITE_ERROR while creating the tables: tables of another shape are in the way.
      if ((error as { errcode?: number }).errcode !== 1) throw error;
      throw Object.assign(new Error(`wrong table shape: ${describe(error)}`), { errcode: 11 });
    }
    checkShape(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * A store at least this big is checked table by table on opening, without the stored API bodies
 * (stamp_bodies): hundreds of MB in a large library, where checking them on every open was a
 * tenth of a no-change run. A damaged body is read from its sidecar instead (sidecar-stamps.ts);
 * a run that meets damage leaves FULL_CHECK_SUFFIX beside the store, and the next open checks it
 * whole (and rebuilds it when it is damaged).
 */
const FULL_CHECK_BYTES = 64 * 1024 * 1024;
const BULK_TABLES = new Set(['stamp_bodies']);
export const FULL_CHECK_SUFFIX = '.check';

/**
 * Beside the store after a run closed it with no failure: its size and mtime then. A store still
 * as that run left it is not checked again on opening (the check was most of a second of a
 * no-change rerun over 50,000 files); damage SQLite meets while reading is still caught
 * (FULL_CHECK_SUFFIX). Taken away on opening, so a run that does not close cleanly leaves none.
 */
export const CLEAN_CLOSE_SUFFIX = '.clean';

const statMark = (file: string) => {
  const info = statSync(file, { throwIfNoEntry: false });
  return info ? `${info.size}:${info.mtimeMs}:${info.ino}` : undefined;
};

/**
 * A write-ahead log with frames in it: changes not folded into the store yet. An empty one is
 * what a read-only connection leaves (the site reads bodies after the scan closed the store: it
 * cannot delete the log), and says nothing about the store.
 */
function walHasFrames(file: string): boolean {
  return (statSync(file + '-wal', { throwIfNoEntry: false })?.size ?? 0) > 0;
}

function markClean(file: string): void {
  try {
    // The write-ahead log was folded in on close; frames left over mean another connection is open.
    if (walHasFrames(file)) return;
    const mark = statMark(file);
    if (mark) writeFileSync(file + CLEAN_CLOSE_SUFFIX, mark);
  } catch {
    // Only saves the next open its check.
  }
}

/** Whether the store is as a clean close left it; the mark is used up either way. */
function closedCleanly(file: string): boolean {
  const marker = file + CLEAN_CLOSE_SUFFIX;
  let mark: string;
  try {
    mark = readFileSync(marker, 'utf8');
  } catch {
    return false;
  }
  rmSync(marker, { force: true });
  return !walHasFrames(file) && mark === statMark(file);
}

/** How many times opening a store ran SQLite's quick check (tests count them). */
export const integrityCheckStats = { checks: 0 };

/** Throws a corruption error (the store is set aside and rebuilt) when SQLite's quick check fails. */
function integrityCheck(db: DatabaseSync, file: string, clean: boolean): void {
  const marker = file + FULL_CHECK_SUFFIX;
  if (clean && !existsSync(marker)) return;
  integrityCheckStats.checks += 1;
  const full = existsSync(marker) || (statSync(file, { throwIfNoEntry: false })?.size ?? 0) < FULL_CHECK_BYTES;
  const tables = full
    ? [undefined]
    : (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((row) => row.name).filter((name) => !BULK_TABLES.has(name));
  const problems: string[] = [];
  for (const table of tables) {
    const check = db.prepare(table === undefined ? 'PRAGMA quick_check' : `PRAGMA quick_check("${table.replaceAll('"', '""')}")`).all() as { quick_check?: string }[];
    if (check.length !== 1 || check[0]?.quick_check !== 'ok') problems.push(...check.map((row) => String(row.quick_check)));
  }
  if (problems.length > 0) throw Object.assign(new Error(`integrity check failed: ${problems.slice(0, 3).join('; ')}`), { errcode: 11 });
  if (full) rmSync(marker, { force: true });
}

/** Throws a corruption error (the store is set aside and rebuilt) for a table missing or missing columns. */
function checkShape(db: DatabaseSync): void {
  const problems: string[] = [];
  for (const [table, columns] of Object.entries(EXPECTED_COLUMNS)) {
    const present = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name?: string }[]).map((row) => row.name));
    if (present.size === 0) {
      problems.push(`table ${table} is missing`);
      continue;
    }
    const missing = columns.filter((column) => !present.has(column));
    if (missing.length > 0) problems.push(`table ${table} has no column ${missing.join(', ')}`);
  }
  if (problems.length > 0) throw Object.assign(new Error(`wrong table shape: ${problems.join('; ')}`), { errcode: 11 });
}

function setUp(db: DatabaseSync, fromVersion = 0): void {
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA foreign_keys = ON');
  if (fromVersion >= SCHEMA_VERSION) return;
  // Every step in one transaction: the store is at the old version or the new one, never in
  // between, and a new store's tables cost one write of each page (a nearly full disk).
  db.exec('BEGIN IMMEDIATE');
  try {
    for (let version = fromVersion + 1; version <= SCHEMA_VERSION; version += 1) db.exec(MIGRATIONS[version] ?? '');
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (error) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // SQLite rolled back already (a full disk, an I/O error): the first error is the one to tell.
    }
    throw error;
  }
}

/** SQLITE_CORRUPT (11) and SQLITE_NOTADB (26): the file itself is bad, not our access to it. */
function isCorruption(error: unknown): boolean {
  const code = ((error as { errcode?: number } | undefined)?.errcode ?? 0) & 0xff;
  return code === 11 || code === 26;
}

/**
 * The disk under the store failed. SQLITE_FULL (13) and SQLITE_READONLY (8): writing is over for
 * this run, reading still works. SQLITE_IOERR (10), SQLITE_CORRUPT (11), SQLITE_CANTOPEN (14),
 * SQLITE_NOTADB (26): nothing it answers can be trusted any more. Extended codes included.
 */
function diskFailure(error: unknown): 'writes' | 'all' | undefined {
  const code = (error as { errcode?: unknown } | undefined)?.errcode;
  if (typeof code !== 'number') return undefined;
  const primary = code & 0xff;
  if (primary === 13 || primary === 8) return 'writes';
  if (primary === 10 || primary === 11 || primary === 14 || primary === 26) return 'all';
  return undefined;
}

/** The guard labels of the table modules: `… write` changes the store, the rest only reads. */
function isWrite(what: string): boolean {
  return / write$/.test(what) || what === 'starting a transaction' || what === 'a commit';
}

function diskHint(error: unknown): string {
  const code = ((error as { errcode?: number }).errcode ?? 0) & 0xff;
  if (code === 13) return '; the disk is full';
  if (code === 8) return '; the file or its folder became read-only';
  return '';
}

function moveAside(file: string, at: number): string {
  const stamp = new Date(at).toISOString().replace(/[:.]/g, '-');
  const aside = `${file}.corrupt-${stamp}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(file + suffix)) renameSync(file + suffix, aside + suffix);
  }
  return aside;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
