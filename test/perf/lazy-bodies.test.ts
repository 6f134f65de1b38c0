/**
 * The stored API answers of a rerun are parsed only when read: a record's `version` and `model`
 * (and its images' generation parameters) come unparsed from the state store, are the same bodies once read (also after the run closed
 * the store), come from the sidecar when the store lost them, and the store drops a body no
 * stamp refers to only a grace period later.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lazyOf } from '../../src/integration/engine/records/lazy.ts';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { sidecarReadStats } from '../../src/integration/engine/sidecars/metadata.ts';
import { openStateStore, ORPHAN_GRACE_MS, STATE_FILE_NAME } from '../../src/integration/engine/state/index.ts';
import { createWorkspace, setupLibrary, type Setup, type Workspace } from '../support/library.ts';

let workspace: Workspace;
let lib: Setup;
beforeAll(async () => {
  workspace = await createWorkspace('cs-lazy-');
  lib = await setupLibrary(workspace, 'lib', { job: { output: { images: { save: false } } } });
});
afterAll(async () => {
  await workspace?.close();
});

const run = () => runScanJob({ config: lib.config, job: lib.job, jobName: lib.name });
const identified = (records: ModelRecord[]) => records.filter((record) => record.civitai.status === 'identified');
const bodies = (records: ModelRecord[]) => identified(records).map((record) => ({ id: record.id, version: record.version, model: record.model }));
const storeFile = () => path.join(lib.config.scanner.cache_dir, STATE_FILE_NAME);

describe('the stored answers of a rerun', () => {
  it('are parsed only when read, after the run too, and are the bodies the first run stored', async () => {
    const first = await run();
    expect(identified(first.records).length).toBeGreaterThan(3);
    const rerun = await run();
    const records = identified(rerun.records);
    // Nothing of a no-change run read them: every body is still unparsed when the run returns.
    expect(records.every((record) => lazyOf(record, 'version') !== undefined)).toBe(true);
    expect(records.filter((record) => lazyOf(record, 'model') !== undefined).length).toBeGreaterThan(0);
    const reads = sidecarReadStats.reads;
    // Read now, with the run's store closed: through a connection of their own, no sidecar read.
    expect(bodies(rerun.records)).toEqual(bodies(first.records));
    expect(sidecarReadStats.reads - reads).toBe(0);
    expect(records.every((record) => lazyOf(record, 'version') === undefined)).toBe(true);
    // A parsed body is an ordinary property: it can be changed like any other.
    const record = records[0] as ModelRecord;
    record.version = { ...(record.version as NonNullable<ModelRecord['version']>), name: 'renamed here' };
    expect(record.version?.name).toBe('renamed here');
  });

  it('come from the sidecar when the store lost them, and say what to do when the sidecar is gone too', async () => {
    const expected = bodies((await run()).records);
    const rerun = await run();
    const db = new DatabaseSync(storeFile());
    db.exec('DELETE FROM stamp_bodies');
    db.close();
    const [one, two] = identified(rerun.records);
    const reads = sidecarReadStats.reads;
    expect(one?.version).toEqual(expected[0]?.version);
    expect(sidecarReadStats.reads - reads).toBe(1);
    await rm(two?.sidecarPath as string);
    expect(() => two?.version).toThrow(/not in the state store any more and the sidecar no longer has it; run the scan again/);
    // The next run writes the missing sidecar again and stores the bodies anew.
    const repaired = await run();
    expect(repaired.report.errors.filter((entry) => entry.path === two?.file.path)).toEqual([]);
    expect(existsSync(two?.sidecarPath as string)).toBe(true);
    const again = await run();
    expect(bodies(again.records)).toEqual(expected);
  });
});

describe('stored bodies in the state store', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cs-bodies-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('are kept once by content, and dropped a grace period after no stamp refers to them', () => {
    let clock = 1_000_000_000_000;
    const store = openStateStore(dir, { now: () => clock });
    const model = { dev: 1, ino: 2, size: 10, mtimeMs: 1000 };
    const sidecar = { size: 5, mtimeMs: 1234.5, ctimeMs: 1234.5, ino: 7 };
    const section = (name: string) => ({
      format: 2,
      file: { name: 'a.safetensors', size: 10, mtimeMs: 1000 },
      hashes: { SHA256: 'AB' },
      images: [],
      version: { id: 1, modelId: 3, name, files: [{ sizeKB: 0.01, hashes: { SHA256: 'AB', AutoV3: 'CD' } }] },
      model: { id: 3, name: 'shared model' },
    });
    const rows = () => {
      const db = new DatabaseSync(path.join(dir, STATE_FILE_NAME));
      const all = db.prepare('SELECT body, orphaned_at FROM stamp_bodies').all() as { body: string; orphaned_at: number | null }[];
      db.close();
      return all.map((row) => [JSON.parse(row.body).name as string, row.orphaned_at !== null] as const).sort((a, b) => a[0].localeCompare(b[0]));
    };
    store.sidecars.remember('/m/a.json', { model, sidecar, section: section('one'), top: {} });
    store.sidecars.remember('/m/b.json', { model: { ...model, ino: 3 }, sidecar, section: section('one'), top: {} });
    // Two stamps, one version body and one model body.
    expect(rows()).toEqual([['one', false], ['shared model', false]]);
    const stamp = store.sidecars.lookup('/m/a.json', model, sidecar);
    expect(stamp?.bodies?.version?.loaded).toBe(false);
    expect(stamp?.section).not.toHaveProperty('version');
    // What a record needs of the version, known without it: the hash our file lacks, its size, the AIR.
    expect(stamp?.facts).toEqual({ modelId: 3, air: 'urn:air:other:other:civitai:3@1', sizeKB: 0.01, fileHashes: { AutoV3: 'CD' } });
    expect(stamp?.bodies?.version?.get()).toMatchObject({ id: 1, name: 'one' });

    store.sidecars.remember('/m/a.json', { model, sidecar, section: section('two'), top: {} });
    store.sidecars.remember('/m/b.json', { model: { ...model, ino: 3 }, sidecar, section: section('two'), top: {} });
    expect(store.sidecars.collect()).toBe(0);
    // Nothing refers to "one" now; it stays for records handed out before.
    expect(rows()).toEqual([['one', true], ['shared model', false], ['two', false]]);
    clock += ORPHAN_GRACE_MS - 1;
    store.sidecars.forget('/m/b.json');
    expect(store.sidecars.collect()).toBe(0);
    clock += 2;
    store.sidecars.remember('/m/c.json', { model: { ...model, ino: 4 }, sidecar, section: section('two'), top: {} });
    expect(store.sidecars.collect()).toBe(1);
    expect(rows()).toEqual([['shared model', false], ['two', false]]);
    // A body stored again before its time is up is kept.
    store.sidecars.remember('/m/c.json', { model: { ...model, ino: 4 }, sidecar, section: section('three'), top: {} });
    store.sidecars.remember('/m/c.json', { model: { ...model, ino: 4 }, sidecar, section: section('two'), top: {} });
    store.sidecars.collect();
    expect(rows()).toEqual([['shared model', false], ['three', true], ['two', false]]);
    store.sidecars.remember('/m/c.json', { model: { ...model, ino: 4 }, sidecar, section: section('three'), top: {} });
    clock += ORPHAN_GRACE_MS + 1;
    store.sidecars.remember('/m/d.json', { model: { ...model, ino: 5 }, sidecar, section: section('two'), top: {} });
    expect(store.sidecars.collect()).toBe(0);
    expect(rows()).toEqual([['shared model', false], ['three', false], ['two', false]]);
    expect(store.sidecars.lookup('/m/a.json', model, sidecar)?.bodies?.version?.get()).toMatchObject({ name: 'two' });
    store.close();
  });

  it("keep the images' generation parameters apart, parsed when one is read, kept by a later stamp unparsed, and from the sidecar when the store lost them", () => {
    const clock = 1_000_000_000_000;
    const storeDir = path.join(dir, 'image-meta');
    const store = openStateStore(storeDir, { now: () => clock });
    const model = { dev: 1, ino: 2, size: 10, mtimeMs: 1000 };
    const sidecar = { size: 5, mtimeMs: 1234.5, ctimeMs: 1234.5, ino: 7 };
    const metas = [{ prompt: 'a castle', seed: 1 }, null, { prompt: 'a lake', steps: 30 }];
    const image = (index: number) => ({ file: `a.preview${index + 1}.jpeg`, url: `https://image.example/${index}.jpeg`, type: 'image', nsfwLevel: 1 });
    const section = {
      format: 2,
      file: { name: 'a.safetensors', size: 10, mtimeMs: 1000 },
      hashes: { SHA256: 'AB' },
      images: metas.map((meta, index) => (meta ? { ...image(index), meta } : image(index))),
    };
    store.sidecars.remember('/m/a.json', { model, sidecar, section, top: {} });
    const raw = new DatabaseSync(path.join(storeDir, STATE_FILE_NAME));
    const stampText = (raw.prepare('SELECT body FROM sidecar_stamps').get() as { body: string }).body;
    // The stamp itself (read on every run) has none of them.
    expect(stampText).not.toContain('a castle');
    const stamp = store.sidecars.lookup('/m/a.json', model, sidecar);
    const images = stamp?.section.images as Record<string, unknown>[];
    expect(images.every((each) => lazyOf(each, 'meta') !== undefined)).toBe(true);
    expect(images.map((each) => each.meta ?? null)).toEqual(metas);
    // A stamp taken again from a looked-up section keeps the same body without parsing it.
    const again = store.sidecars.lookup('/m/a.json', model, sidecar);
    store.sidecars.remember('/m/b.json', { model: { ...model, ino: 3 }, sidecar, section: again?.section as Record<string, unknown>, top: {} });
    expect((again?.section.images as object[]).every((each) => lazyOf(each, 'meta') !== undefined)).toBe(true);
    store.sidecars.forget('/m/a.json');
    store.sidecars.collect();
    const orphaned = raw.prepare('SELECT COUNT(*) AS n FROM stamp_bodies WHERE orphaned_at IS NOT NULL').get() as { n: number };
    expect(orphaned.n).toBe(0);
    // Lost from the store: the sidecar's own images have them.
    raw.exec('DELETE FROM stamp_bodies');
    raw.close();
    const lost = store.sidecars.lookup('/m/b.json', { ...model, ino: 3 }, sidecar, {
      fallback: (field) => (field === 'imageMeta' ? metas : undefined),
    });
    expect((lost?.section.images as Record<string, unknown>[]).map((each) => each.meta ?? null)).toEqual(metas);
    store.close();
  });
});
