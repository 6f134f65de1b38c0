/**
 * The persistent halves of the network layer's caches, and a log of runs. The HTTP cache stores
 * what the caller gives it and checks age only against the `maxAgeSeconds` the caller passes
 * (`scanner.cache_validity`); the negative cache only ever holds hashes CivitAI answered with a
 * real 404 — recording anything else there is the caller's bug.
 */
import { z } from 'zod';
import type { StoreContext } from './store.ts';

export interface CachedResponse {
  status: number;
  /** The response body as text (JSON for API answers). */
  body: string;
  /** Epoch ms when it was fetched. */
  fetchedAt: number;
}

export interface HttpCache {
  /** The stored response if it is at most `maxAgeSeconds` old. */
  get(key: string, maxAgeSeconds: number): CachedResponse | undefined;
  set(key: string, value: { status: number; body: string; fetchedAt?: number }): void;
  /**
   * `set` of many entries in one transaction: a batch answer stores a row per version or model,
   * and a commit for each was most of the cost of the cache on a first run.
   */
  setMany(entries: readonly { key: string; value: { status: number; body: string; fetchedAt?: number } }[]): void;
  delete(key: string): void;
  /** Drops entries older than `maxAgeSeconds`; returns how many went. */
  prune(maxAgeSeconds: number): number;
}

/** How long a 404 for a hash is believed before asking again. */
export const NOT_FOUND_TTL_SECONDS = 7 * 24 * 60 * 60;

export interface NotFoundCache {
  /** True when CivitAI answered 404 for this SHA-256 less than `ttlSeconds` ago. */
  isFresh(sha256: string, ttlSeconds?: number): boolean;
  /** When the last 404 for this SHA-256 was recorded (epoch ms). */
  checkedAt(sha256: string): number | undefined;
  add(sha256: string, checkedAt?: number): void;
  /** A hash that is found after all (or whose 404 should be forgotten). */
  remove(sha256: string): void;
  prune(ttlSeconds?: number): number;
}

export type RunStatus = 'running' | 'ok' | 'failed' | 'aborted';

export interface RunRecord {
  id: number;
  job: string;
  startedAt: number;
  finishedAt?: number;
  /** `running` with no `finishedAt` after the fact means the process was killed. */
  status: RunStatus;
  summary?: unknown;
}

export interface RunLog {
  /** Records the start of a run; returns its id (0 when the store cannot write). */
  start(job: string): number;
  finish(id: number, outcome: { status: Exclude<RunStatus, 'running'>; summary?: unknown }): void;
  /** The latest run of `job` (of any job when omitted). */
  last(job?: string): RunRecord | undefined;
}

const CacheRowSchema = z.object({ status: z.number(), body: z.string(), fetched_at: z.number() });
const RunRowSchema = z.object({
  id: z.number(),
  job: z.string(),
  started_at: z.number(),
  finished_at: z.number().nullable(),
  status: z.enum(['running', 'ok', 'failed', 'aborted']),
  summary: z.string().nullable(),
});

export function createHttpCache({ db, now, guard }: StoreContext): HttpCache {
  const select = db.prepare('SELECT status, body, fetched_at FROM http_cache WHERE key = ?');
  const upsert = db.prepare(
    'INSERT INTO http_cache (key, status, body, fetched_at) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT (key) DO UPDATE SET status = excluded.status, body = excluded.body, fetched_at = excluded.fetched_at',
  );
  const remove = db.prepare('DELETE FROM http_cache WHERE key = ?');
  const pruneOld = db.prepare('DELETE FROM http_cache WHERE fetched_at < ?');
  return {
    get(key, maxAgeSeconds) {
      return guard('cache read', undefined, () => {
        const row = CacheRowSchema.safeParse(select.get(key));
        if (!row.success) return undefined;
        const age = now() - row.data.fetched_at;
        if (age > maxAgeSeconds * 1000) return undefined;
        return { status: row.data.status, body: row.data.body, fetchedAt: row.data.fetched_at };
      });
    },
    set(key, value) {
      guard('cache write', undefined, () => {
        upsert.run(key, value.status, value.body, value.fetchedAt ?? now());
      });
    },
    setMany(entries) {
      if (entries.length === 0) return;
      guard('cache write', undefined, () => {
        // A savepoint is a transaction of its own outside one, and joins the store's inside one
        // (`isTransaction` is not in every Node this runs on).
        db.exec('SAVEPOINT cache_many');
        try {
          const at = now();
          for (const { key, value } of entries) upsert.run(key, value.status, value.body, value.fetchedAt ?? at);
          db.exec('RELEASE cache_many');
        } catch (error) {
          try {
            db.exec('ROLLBACK TO cache_many');
            db.exec('RELEASE cache_many');
          } catch {
            // SQLite rolled back already.
          }
          throw error;
        }
      });
    },
    delete(key) {
      guard('cache write', undefined, () => {
        remove.run(key);
      });
    },
    prune(maxAgeSeconds) {
      return guard('cache write', 0, () => Number(pruneOld.run(now() - maxAgeSeconds * 1000).changes));
    },
  };
}

export function createNotFoundCache({ db, now, guard }: StoreContext): NotFoundCache {
  const select = db.prepare('SELECT checked_at FROM not_found WHERE sha256 = ?');
  const upsert = db.prepare(
    'INSERT INTO not_found (sha256, checked_at) VALUES (?, ?) ON CONFLICT (sha256) DO UPDATE SET checked_at = excluded.checked_at',
  );
  const remove = db.prepare('DELETE FROM not_found WHERE sha256 = ?');
  const pruneOld = db.prepare('DELETE FROM not_found WHERE checked_at < ?');
  // Asked once per unknown file per run (tens of thousands in a large library): our own rows,
  // checked by hand rather than with a zod pass each.
  const checkedAt = (sha256: string): number | undefined =>
    guard('not-found cache read', undefined, () => {
      const row = select.get(sha256.toUpperCase()) as { checked_at?: unknown } | undefined;
      return typeof row?.checked_at === 'number' ? row.checked_at : undefined;
    });
  return {
    checkedAt,
    isFresh(sha256, ttlSeconds = NOT_FOUND_TTL_SECONDS) {
      const at = checkedAt(sha256);
      return at !== undefined && now() - at < ttlSeconds * 1000;
    },
    add(sha256, at) {
      guard('not-found cache write', undefined, () => {
        upsert.run(sha256.toUpperCase(), at ?? now());
      });
    },
    remove(sha256) {
      guard('not-found cache write', undefined, () => {
        remove.run(sha256.toUpperCase());
      });
    },
    prune(ttlSeconds = NOT_FOUND_TTL_SECONDS) {
      return guard('not-found cache write', 0, () => Number(pruneOld.run(now() - ttlSeconds * 1000).changes));
    },
  };
}

export function createRunLog({ db, now, guard }: StoreContext): RunLog {
  const insert = db.prepare("INSERT INTO runs (job, started_at, status) VALUES (?, ?, 'running')");
  const update = db.prepare('UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?');
  const lastOf = db.prepare('SELECT * FROM runs WHERE job = ? ORDER BY started_at DESC, id DESC LIMIT 1');
  const lastAny = db.prepare('SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT 1');
  return {
    start(job) {
      return guard('run log write', 0, () => Number(insert.run(job, now()).lastInsertRowid));
    },
    finish(id, outcome) {
      guard('run log write', undefined, () => {
        const summary = outcome.summary === undefined ? null : JSON.stringify(outcome.summary);
        update.run(now(), outcome.status, summary, id);
      });
    },
    last(job) {
      return guard('run log read', undefined, () => {
        const row = RunRowSchema.safeParse(job === undefined ? lastAny.get() : lastOf.get(job));
        if (!row.success) return undefined;
        let summary: unknown;
        try {
          summary = row.data.summary === null ? undefined : JSON.parse(row.data.summary);
        } catch {
          summary = undefined;
        }
        return {
          id: row.data.id,
          job: row.data.job,
          startedAt: row.data.started_at,
          ...(row.data.finished_at === null ? {} : { finishedAt: row.data.finished_at }),
          status: row.data.status,
          ...(summary === undefined ? {} : { summary }),
        };
      });
    },
  };
}
