import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStateStore, SCHEMA_VERSION, type StateStore } from '../../src/integration/engine/state/index.ts';
import { integrityCheckStats } from '../../src/integration/engine/state/store.ts';
import type { Logger } from '../../src/integration/engine/util/logger.ts';

let dir: string;
const opened: StateStore[] = [];

function capture(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug() {}, info() {}, warn: (message) => warnings.push(message), error() {} };
}

function store(options: Parameters<typeof openStateStore>[1] = {}): StateStore {
  const created = openStateStore(path.join(dir, 'cache'), options);
  opened.push(created);
  return created;
}

/** A file whose mtime lies well in the past, as a downloaded model's does. */
async function modelFile(name: string, content: string) {
  const file = path.join(dir, name);
  await writeFile(file, content);
  const past = new Date(Date.now() - 3600_000);
  await utimes(file, past, past);
  const stats = await stat(file);
  return { path: file, dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs };
}

/** Writes `length` bytes of garbage over the file at `offset`, in place (same size, another mtime). */
async function damage(file: string, offset: number, length: number) {
  const handle = await open(file, 'r+');
  await handle.write(Buffer.alloc(length, 0xa5), 0, length, offset);
  await handle.close();
}

const HASHES = { SHA256: 'A'.repeat(64), AutoV2: 'A'.repeat(10) };

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-state-'));
});

afterEach(async () => {
  for (const each of opened.splice(0)) each.close();
  await rm(dir, { recursive: true, force: true });
});

describe('hash ledger', () => {
  it('finds a file again after a rename or a move within the device, without its path', async () => {
    const s = store();
    const file = await modelFile('a.safetensors', 'weights');
    s.ledger.remember(file, file.path, HASHES);

    await mkdir(path.join(dir, 'moved'));
    const movedPath = path.join(dir, 'moved', 'renamed.safetensors');
    await rename(file.path, movedPath);
    const after = await stat(movedPath);
    expect(after.ino).toBe(file.ino);

    const hit = s.ledger.find({ path: movedPath, dev: after.dev, ino: after.ino, size: after.size, mtimeMs: after.mtimeMs });
    expect(hit?.entry.hashes).toEqual(HASHES);
    expect(hit?.how).toBe('identity');
    expect(hit?.moved).toBe(true);
    expect(hit?.entry.path).toBe(file.path);

    // Remembering the new path moves the entry; the old path is no longer known.
    s.ledger.remember(after, movedPath, HASHES);
    expect(s.ledger.lookupByPath(movedPath, after.size, after.mtimeMs)?.hashes).toEqual(HASHES);
    expect(s.ledger.lookupByPath(file.path, file.size, file.mtimeMs)).toBeUndefined();
    expect(s.ledger.count()).toBe(1);
  });

  it('misses once the content changed (size or mtime)', async () => {
    const s = store();
    const file = await modelFile('b.ckpt', 'version one');
    s.ledger.remember(file, file.path, HASHES);
    expect(s.ledger.lookup(file)?.hashes).toEqual(HASHES);

    expect(s.ledger.lookup({ ...file, mtimeMs: file.mtimeMs + 1 })).toBeUndefined();
    expect(s.ledger.lookup({ ...file, size: file.size + 1 })).toBeUndefined();

    await writeFile(file.path, 'version two, longer');
    const changed = await stat(file.path);
    expect(s.ledger.find({ path: file.path, dev: changed.dev, ino: changed.ino, size: changed.size, mtimeMs: changed.mtimeMs })).toBeUndefined();
  });

  it('finds a file by path when its device number changed (remount) but size and mtime did not', async () => {
    const s = store();
    const file = await modelFile('c.pt', 'data');
    s.ledger.remember(file, file.path, HASHES);
    const hit = s.ledger.find({ ...file, dev: file.dev + 1000 });
    expect(hit?.how).toBe('path');
    expect(hit?.entry.hashes).toEqual(HASHES);
  });

  it('does not trust an entry hashed right after the file was written (coarse mtime clocks)', async () => {
    const s = store();
    const file = await modelFile('d.safetensors', 'x');
    s.ledger.remember(file, file.path, HASHES, { hashedAt: file.mtimeMs + 500 });
    expect(s.ledger.lookup(file)).toBeUndefined();
    s.ledger.remember(file, file.path, HASHES, { hashedAt: file.mtimeMs + 5000 });
    expect(s.ledger.lookup(file)?.hashes).toEqual(HASHES);
  });

  it('merges hashes for unchanged content and replaces them for changed content', async () => {
    const s = store();
    const file = await modelFile('e.safetensors', 'x');
    s.ledger.remember(file, file.path, { SHA256: HASHES.SHA256 }, { source: 'lora-manager' });
    s.ledger.remember(file, file.path, { CRC32: '85114A0D' });
    expect(s.ledger.lookup(file)?.hashes).toEqual({ SHA256: HASHES.SHA256, CRC32: '85114A0D' });
    expect(s.ledger.lookup(file)?.source).toBe('read');

    const changed = { ...file, size: file.size + 10 };
    s.ledger.remember(changed, file.path, { SHA256: 'B'.repeat(64) });
    expect(s.ledger.lookup(changed)?.hashes).toEqual({ SHA256: 'B'.repeat(64) });
  });

  it('forgets by path and prunes entries no run has seen for a while', async () => {
    let clock = 1_000_000_000_000;
    const s = store({ now: () => clock });
    const a = await modelFile('f1.bin', 'one');
    const b = await modelFile('f2.bin', 'two');
    s.ledger.remember(a, a.path, HASHES, { hashedAt: clock });
    s.ledger.remember(b, b.path, HASHES, { hashedAt: clock });
    expect(s.ledger.forget(a.path)).toBe(1);
    expect(s.ledger.lookup(a)).toBeUndefined();
    clock += 40 * 86_400_000;
    expect(s.ledger.prune(30 * 86_400)).toBe(1);
    expect(s.ledger.count()).toBe(0);
  });

  it('keeps entries across close and reopen', async () => {
    const file = await modelFile('g.safetensors', 'persist');
    const first = store();
    first.ledger.remember(file, file.path, HASHES);
    first.close();
    expect(store().ledger.lookup(file)?.hashes).toEqual(HASHES);
  });
});

describe('caches and run log', () => {
  it('round-trips a cached response and honours the caller’s max age', () => {
    let clock = 1_700_000_000_000;
    const s = store({ now: () => clock });
    s.cache.set('GET /models/1', { status: 200, body: '{"id":1}' });
    expect(s.cache.get('GET /models/1', 60)).toEqual({ status: 200, body: '{"id":1}', fetchedAt: clock });
    clock += 61_000;
    expect(s.cache.get('GET /models/1', 60)).toBeUndefined();
    expect(s.cache.get('GET /models/1', 3600)?.body).toBe('{"id":1}');
    s.cache.set('GET /models/1', { status: 200, body: '{"id":1,"v":2}' });
    expect(s.cache.get('GET /models/1', 60)?.body).toBe('{"id":1,"v":2}');
    s.cache.delete('GET /models/1');
    expect(s.cache.get('GET /models/1', 3600)).toBeUndefined();
    expect(s.cache.get('never stored', 3600)).toBeUndefined();
  });

  it('negative-caches a 404 for 7 days by default, case-insensitively', () => {
    let clock = 1_700_000_000_000;
    const s = store({ now: () => clock });
    const sha = 'abcdef'.padEnd(64, '0');
    expect(s.notFound.isFresh(sha)).toBe(false);
    s.notFound.add(sha);
    expect(s.notFound.isFresh(sha.toUpperCase())).toBe(true);
    clock += 6 * 86_400_000;
    expect(s.notFound.isFresh(sha)).toBe(true);
    expect(s.notFound.isFresh(sha, 86_400)).toBe(false);
    clock += 2 * 86_400_000;
    expect(s.notFound.isFresh(sha)).toBe(false);
    s.notFound.add(sha);
    expect(s.notFound.isFresh(sha)).toBe(true);
    s.notFound.remove(sha);
    expect(s.notFound.isFresh(sha)).toBe(false);
  });

  it('logs runs, including one that never finished', () => {
    let clock = 1_700_000_000_000;
    const s = store({ now: () => clock });
    const first = s.runs.start('scan');
    clock += 1000;
    s.runs.finish(first, { status: 'ok', summary: { files: 3 } });
    clock += 1000;
    const second = s.runs.start('scan');
    expect(s.runs.last('scan')).toEqual({ id: second, job: 'scan', startedAt: clock, status: 'running' });
    expect(s.runs.last('other')).toBeUndefined();
    s.runs.finish(second, { status: 'aborted' });
    expect(s.runs.last()?.status).toBe('aborted');
  });

  it('commits a transaction as a whole or not at all', () => {
    const s = store();
    expect(() =>
      s.transaction(() => {
        s.cache.set('k1', { status: 200, body: 'a' });
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(s.cache.get('k1', 60)).toBeUndefined();
    s.transaction(() => s.cache.set('k2', { status: 200, body: 'b' }));
    expect(s.cache.get('k2', 60)?.body).toBe('b');
  });
});

describe('crash safety and recovery', () => {
  it('uses WAL and stamps the schema version', async () => {
    const s = store();
    expect(s.kind).toBe('sqlite');
    s.cache.set('k', { status: 200, body: 'x' });
    const sqlite = process.getBuiltinModule('node:sqlite');
    const raw = new sqlite.DatabaseSync(s.path, { readOnly: true });
    expect(raw.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    expect(raw.prepare('PRAGMA user_version').get()).toEqual({ user_version: SCHEMA_VERSION });
    raw.close();
  });

  it('moves a file that is not a database aside and starts over, with a warning', async () => {
    await mkdir(path.join(dir, 'cache'));
    const file = path.join(dir, 'cache', 'state.sqlite');
    await writeFile(file, 'this is not a database, just text '.repeat(200));
    const logger = capture();
    const s = store({ logger });
    expect(s.kind).toBe('sqlite');
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toMatch(/damaged .*moved it to .*state\.sqlite\.corrupt-/);
    const aside = readdirSync(path.join(dir, 'cache')).filter((name) => name.includes('.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(await readFile(path.join(dir, 'cache', aside[0] as string), 'utf8')).toContain('not a database');
    s.cache.set('k', { status: 200, body: 'works' });
    expect(s.cache.get('k', 60)?.body).toBe('works');
  });

  it('marks a clean close, uses the mark up on opening, and checks a store changed since', async () => {
    const file = path.join(dir, 'cache', 'state.sqlite');
    const first = store();
    first.cache.set('key', { status: 200, body: 'x' });
    first.close();
    // The mark is the store as the close left it; the next open takes it away (a run that then
    // crashes leaves none, so the open after it checks the store).
    const mark = await readFile(`${file}.clean`, 'utf8');
    const info = await stat(file);
    expect(mark).toBe(`${info.size}:${info.mtimeMs}:${info.ino}`);
    const second = store();
    expect(existsSync(`${file}.clean`)).toBe(false);
    expect(second.cache.get('key', 60)?.body).toBe('x');
    second.close();
    expect(existsSync(`${file}.clean`)).toBe(true);
    // Damage after the clean close (same size, another mtime): the mark no longer holds.
    await damage(file, 0, 4096);
    const logger = capture();
    const third = store({ logger });
    expect(logger.warnings.join('\n')).toMatch(/damaged/);
    expect(third.kind).toBe('sqlite');
  });

  it('keeps the mark through a read-only reader after the close (the empty log it leaves says nothing)', async () => {
    const file = path.join(dir, 'cache', 'state.sqlite');
    const first = store();
    first.cache.set('key', { status: 200, body: 'x' });
    first.close();
    // What the site does when it reads a record's body after the scan: a read-only connection.
    const reader = new DatabaseSync(file, { readOnly: true });
    reader.prepare('SELECT COUNT(*) FROM http_cache').get();
    reader.close();
    expect((await stat(`${file}-wal`)).size).toBe(0);
    const checks = integrityCheckStats.checks;
    const second = store();
    expect(integrityCheckStats.checks).toBe(checks);
    expect(second.cache.get('key', 60)?.body).toBe('x');
    second.close();
    // A log with frames in it is not a clean close: the next open checks.
    const writer = new DatabaseSync(file);
    writer.exec('PRAGMA wal_autocheckpoint = 0');
    writer.prepare("INSERT INTO runs (job, started_at, status) VALUES ('x', 1, 'ok')").run();
    const third = store();
    expect(integrityCheckStats.checks).toBe(checks + 1);
    third.close();
    writer.close();
  });

  it('recovers from a database whose pages were damaged', async () => {
    const first = store();
    first.transaction(() => {
      for (let i = 0; i < 2000; i += 1) first.cache.set(`key-${i}`, { status: 200, body: 'x'.repeat(200) });
    });
    first.close();
    const file = path.join(dir, 'cache', 'state.sqlite');
    await damage(file, 8192, 16384);

    const logger = capture();
    const s = store({ logger });
    expect(logger.warnings.join('\n')).toMatch(/damaged/);
    expect(s.kind).toBe('sqlite');
    expect(s.cache.get('key-1', 60)).toBeUndefined();
    s.cache.set('key-1', { status: 200, body: 'fresh' });
    expect(s.cache.get('key-1', 60)?.body).toBe('fresh');
  });

  it('leaves a store from a newer version alone and keeps state in memory', async () => {
    const first = store();
    first.close();
    const sqlite = process.getBuiltinModule('node:sqlite');
    const file = path.join(dir, 'cache', 'state.sqlite');
    const raw = new sqlite.DatabaseSync(file);
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 5}`);
    raw.close();

    const logger = capture();
    const s = store({ logger });
    expect(s.kind).toBe('memory');
    expect(logger.warnings[0]).toMatch(/newer CivitScraper/);
    expect(existsSync(file)).toBe(true);
    s.cache.set('k', { status: 200, body: 'in memory' });
    expect(s.cache.get('k', 60)?.body).toBe('in memory');
  });

  it('keeps working in memory when the folder cannot hold a store', async () => {
    const blocker = path.join(dir, 'not-a-folder');
    await writeFile(blocker, 'x');
    const logger = capture();
    const s = openStateStore(path.join(blocker, 'cache'), { logger });
    opened.push(s);
    expect(s.kind).toBe('memory');
    expect(logger.warnings).toHaveLength(1);
    s.notFound.add('A'.repeat(64));
    expect(s.notFound.isFresh('A'.repeat(64))).toBe(true);
  });

  it('answers "nothing known" instead of throwing when the database goes away mid-run', async () => {
    const logger = capture();
    const s = store({ logger });
    const file = await modelFile('h.bin', 'x');
    s.close();
    expect(s.ledger.lookup(file)).toBeUndefined();
    expect(() => s.ledger.remember(file, file.path, HASHES)).not.toThrow();
    expect(s.cache.get('k', 60)).toBeUndefined();
    expect(s.notFound.isFresh('A'.repeat(64))).toBe(false);
    expect(logger.warnings.length).toBeGreaterThan(0);
  });
});

describe('sidecar stamps, a whole library at once', () => {
  it('reads every page of the table, with gaps in it, and answers only stamps that still hold', () => {
    const state = store();
    const count = 2600;
    const entries = Array.from({ length: count }, (_, index) => ({
      path: `/lib/shelf-${index % 7}/model-${index}.json`,
      model: { dev: 1, ino: 1000 + index, size: 100 + index, mtimeMs: 1_700_000_000_000 + index },
      sidecar: { size: 50, mtimeMs: 1_700_000_100_000.25 + index, ctimeMs: 1_700_000_100_000.25 + index, ino: 5000 + index },
    }));
    const section = (index: number) => ({
      format: 2,
      file: { name: `model-${index}.safetensors`, size: 100 + index, mtimeMs: 1_700_000_000_000 + index },
      hashes: { SHA256: index.toString(16).toUpperCase().padStart(64, '0') },
      images: [],
      a1111: index % 2 ? { 'activation text': 'x' } : { description: 'y', 'sd version': 'SD1' },
    });
    state.transaction(() => {
      for (const [index, entry] of entries.entries()) {
        state.sidecars.remember(entry.path, { model: entry.model, sidecar: entry.sidecar, section: section(index), top: {} });
      }
    });
    // Rows gone from the middle of pages leave gaps in the rowids.
    for (let index = 1000; index < 1100; index += 1) state.sidecars.forget((entries[index] as (typeof entries)[number]).path);
    const wanted = entries.map((entry) => ({ ...entry }));
    // Edited since its stamp (another mtime): read again, not answered from the store.
    (wanted[2047] as (typeof entries)[number]).sidecar = { ...(entries[2047] as (typeof entries)[number]).sidecar, mtimeMs: 1 };
    const found = state.sidecars.lookupMany(wanted, () => undefined);
    expect(found.size).toBe(count - 100 - 1);
    expect(found.has((entries[2047] as (typeof entries)[number]).path)).toBe(false);
    expect(found.has((entries[1050] as (typeof entries)[number]).path)).toBe(false);
    // Pages of 1,024 rows: with rows 1,000–1,099 gone the first page ends at 1,123, the second at 2,147.
    for (const index of [0, 999, 1100, 1123, 1124, 2147, 2148, count - 1]) {
      const stamp = found.get((entries[index] as (typeof entries)[number]).path);
      expect(stamp?.section.hashes).toEqual({ SHA256: index.toString(16).toUpperCase().padStart(64, '0') });
      expect(stamp?.a1111?.ours).toEqual(index % 2 ? ['activation text'] : ['description', 'sd version']);
    }
    // The same A1111 facts are one object for every stamp with them.
    const [first, third] = [found.get((entries[0] as (typeof entries)[number]).path), found.get((entries[2] as (typeof entries)[number]).path)];
    expect(first?.a1111).toBe(third?.a1111);
    expect(Object.isFrozen(first?.a1111)).toBe(true);
  });

  it('names the stamps nobody asked for (sidecars moved or deleted since), for the run to drop', () => {
    const state = store();
    const entries = Array.from({ length: 600 }, (_, index) => ({
      path: `/lib/model-${index}.json`,
      model: { dev: 1, ino: 10 + index, size: 10, mtimeMs: 1_700_000_000_000 },
      sidecar: { size: 5, mtimeMs: 1_700_000_100_000.5, ctimeMs: 1_700_000_100_000.5, ino: 9000 + index },
    }));
    state.transaction(() => {
      for (const entry of entries) {
        state.sidecars.remember(entry.path, { ...entry, section: { format: 2, hashes: { SHA256: 'AB' }, images: [] }, top: {} });
      }
    });
    const unasked: string[] = [];
    const found = state.sidecars.lookupMany(entries.slice(0, 590), () => undefined, unasked);
    expect(found.size).toBe(590);
    expect(unasked).toEqual(entries.slice(590).map((entry) => entry.path));
  });

  it('lets an error of the caller\'s own `each` through, instead of taking it for a store that cannot be read', () => {
    const warnings = capture();
    const state = store({ logger: warnings });
    const entries = Array.from({ length: 3 }, (_, index) => ({
      path: `/lib/model-${index}.json`,
      model: { dev: 1, ino: 10 + index, size: 10, mtimeMs: 1_700_000_000_000 },
      sidecar: { size: 5, mtimeMs: 1_700_000_100_000.5, ctimeMs: 1_700_000_100_000.5, ino: 9000 + index },
    }));
    for (const entry of entries) state.sidecars.remember(entry.path, { ...entry, section: { format: 2, hashes: { SHA256: 'AB' }, images: [] }, top: {} });
    expect(() =>
      state.sidecars.lookupMany(entries, () => undefined, undefined, () => {
        throw new TypeError('a bug in the caller');
      }),
    ).toThrow('a bug in the caller');
    expect(warnings.warnings).toEqual([]);
    // The store is still answering.
    expect(state.sidecars.lookupMany(entries, () => undefined).size).toBe(3);
  });
});
