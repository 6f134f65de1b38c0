/** A store written before the sidecar stamps (schema 1) is migrated in place: nothing is lost. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { expect, it } from 'vitest';
import { openStateStore, SCHEMA_VERSION, STATE_FILE_NAME } from '../../src/integration/engine/state/index.ts';

it('a schema-1 store keeps its ledger and gains the sidecar stamps and retries', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'cs-migrate-'));
  const raw = new DatabaseSync(path.join(dir, STATE_FILE_NAME));
  raw.exec(`
    CREATE TABLE ledger (dev TEXT NOT NULL, ino TEXT NOT NULL, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, path TEXT NOT NULL,
      hashes TEXT NOT NULL, source TEXT NOT NULL, hashed_at INTEGER NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (dev, ino)) WITHOUT ROWID;
    CREATE INDEX ledger_path ON ledger (path);
    CREATE TABLE http_cache (key TEXT PRIMARY KEY, status INTEGER NOT NULL, body TEXT NOT NULL, fetched_at INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE not_found (sha256 TEXT PRIMARY KEY, checked_at INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER, status TEXT NOT NULL, summary TEXT);
    INSERT INTO ledger VALUES ('1', '2', 10, 1000, '/m/a.safetensors', '{"SHA256":"AB"}', 'read', 9000, 9000);
    PRAGMA user_version = 1;
  `);
  raw.close();
  const store = openStateStore(dir);
  expect(store.kind).toBe('sqlite');
  expect(store.warnings).toEqual([]);
  expect(store.ledger.lookup({ dev: 1, ino: 2, size: 10, mtimeMs: 1000 })?.hashes).toEqual({ SHA256: 'AB' });
  const model = { dev: 1, ino: 2, size: 10, mtimeMs: 1000 };
  const sidecar = { size: 5, mtimeMs: 1234.5, ctimeMs: 1234.5, ino: 7 };
  store.sidecars.remember('/m/a.json', { model, sidecar, section: { format: 2, model: { id: 3, name: 'm' } }, top: {} });
  const stamp = store.sidecars.lookup('/m/a.json', model, sidecar);
  expect(stamp?.section).toEqual({ format: 2 });
  expect(stamp?.bodies?.model?.get()).toEqual({ id: 3, name: 'm' });
  expect(store.sidecars.lookup('/m/a.json', model, { ...sidecar, ctimeMs: 2000 })).toBeUndefined();
  expect(store.sidecars.lookup('/m/a.json', { ...model, size: 11 }, sidecar)).toBeUndefined();
  expect(store.retries.waiting('/m/a.json')).toBe(false);
  store.close();
  const check = new DatabaseSync(path.join(dir, STATE_FILE_NAME));
  expect(check.prepare('PRAGMA user_version').get()).toEqual({ user_version: SCHEMA_VERSION });
  check.close();
});
