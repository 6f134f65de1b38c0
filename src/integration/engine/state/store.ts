/**
 * The persistent state of the engine: one SQLite file (`state.sqlite`) under
 * `scanner.cache_dir`, written through `node:sqlite` in WAL mode. Killing the process at any
 * moment loses at most the statement in flight: every write is its own transaction (or an
 * explicit `transaction()`), and WAL with `synchronous=NORMAL` keeps the file consistent after a
 * crash (after a power cut, the last few commits may be missing, never half-written).
 *
 * The store never takes the engine down: a file that is not a database or fails its integrity
 * check is moved aside and rebuilt with a warning; a store that cannot be opened at all (read-only
 * folder, another program holding a lock, a store written by a newer CivitScraper) is replaced by
 * an in-memory one for this run, also with a warning; an error in a later statement is logged and
 * the call answers "nothing known".
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { silentLogger, type Logger } from '../util/logger.ts';
import { createHttpCache, createNotFoundCache, createRunLog, type HttpCache, type NotFoundCache, type RunLog } from './caches.ts';
import { createLedger, type HashLedger } from './ledger.ts';

export const STATE_FILE_NAME = 'state.sqlite';

/** Bumped on every change of the tables below; `migrate` brings older stores forward. */
export const SCHEMA_VERSION = 1;

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
  /** Runs `fn` in one transaction (much faster for many writes); nested calls join the outer one. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

/** What the table modules get: the database, the clock and a guard that turns errors into warnings. */
export interface StoreContext {
  db: DatabaseSync;
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

  let db: DatabaseSync | undefined;
  let kind: 'sqlite' | 'memory' = 'sqlite';
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    db = openFile(sqlite, file, options.busyTimeoutMs ?? 5000);
  } catch (error) {
    if (isCorruption(error)) {
      try {
        const aside = moveAside(file, now());
        warn(
          `state store ${file} was damaged (${describe(error)}); moved it to ${aside} and started a new one. ` +
            'Hashes and cached answers will be rebuilt.',
        );
        db = openFile(sqlite, file, options.busyTimeoutMs ?? 5000);
      } catch (retryError) {
        warn(
          `state store ${file} is damaged (${describe(error)}) and could not be rebuilt (${describe(retryError)}); ` +
            'keeping state in memory for this run',
        );
      }
    } else {
      warn(`state store ${file} cannot be used (${describe(error)}); keeping state in memory for this run`);
    }
  }
  if (!db) {
    kind = 'memory';
    db = new sqlite.DatabaseSync(':memory:');
    setUp(db);
  }

  const reported = new Set<string>();
  const context: StoreContext = {
    db,
    now,
    guard(what, fallback, fn) {
      try {
        return fn();
      } catch (error) {
        // One warning per kind of failure, not one per file.
        if (!reported.has(what)) {
          reported.add(what);
          logger.warn(`state store: ${what} failed (${describe(error)}); going on without it`);
        }
        return fallback;
      }
    },
  };

  let depth = 0;
  const database = db;
  return {
    kind,
    path: kind === 'sqlite' ? file : ':memory:',
    warnings,
    ledger: createLedger(context),
    cache: createHttpCache(context),
    notFound: createNotFoundCache(context),
    runs: createRunLog(context),
    transaction<T>(fn: () => T): T {
      if (depth > 0 || !database.isOpen) return fn();
      database.exec('BEGIN IMMEDIATE');
      depth += 1;
      try {
        const result = fn();
        database.exec('COMMIT');
        return result;
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
    },
    close() {
      if (database.isOpen) database.close();
    },
  };
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
  const db = new sqlite.DatabaseSync(file, { timeout: busyTimeoutMs });
  try {
    // Reading the journal mode is the first access to the file: a non-database fails here.
    db.prepare('PRAGMA journal_mode = WAL').get();
    const check = db.prepare('PRAGMA quick_check').all() as { quick_check?: string }[];
    if (check.length !== 1 || check[0]?.quick_check !== 'ok') {
      const detail = check.map((row) => row.quick_check).slice(0, 3).join('; ');
      throw Object.assign(new Error(`integrity check failed: ${detail}`), { errcode: 11 });
    }
    const { user_version: version } = db.prepare('PRAGMA user_version').get() as { user_version: number };
    if (version > SCHEMA_VERSION) {
      throw new Error(`it was written by a newer CivitScraper (schema ${version}, this one knows ${SCHEMA_VERSION})`);
    }
    setUp(db, version);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function setUp(db: DatabaseSync, fromVersion = 0): void {
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA foreign_keys = ON');
  for (let version = fromVersion + 1; version <= SCHEMA_VERSION; version += 1) {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(MIGRATIONS[version] ?? '');
      db.exec(`PRAGMA user_version = ${version}`);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }
}

/** SQLITE_CORRUPT (11) and SQLITE_NOTADB (26): the file itself is bad, not our access to it. */
function isCorruption(error: unknown): boolean {
  const code = (error as { errcode?: number }).errcode;
  return code === 11 || code === 26;
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
