/**
 * The site's entry cache (site/entry-cache.ts): a warm run reuses the last run's entries for
 * records made of the same things, and never one whose record, family, updates.json, details file
 * or manifest changed. To tell a reused entry from a rebuilt one, the last run's entries file is
 * marked (a model name no record has) and the manifest tied to the marked file: a rebuilt entry
 * loses the mark.
 */
import { statSync } from 'node:fs';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineLazy, LazyValue } from '../../src/integration/engine/records/lazy.ts';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import { silentLogger } from '../../src/integration/engine/util/logger.ts';
import { siteDetailsFile } from '../../src/integration/site/details.ts';
import { entriesFileStat, entryKeys, entryManifestFile, updatesUntil } from '../../src/integration/site/entry-cache.ts';
import { entriesStamp, sharedSiteData } from '../../src/integration/site/entries.ts';
import { siteDetailsDir, siteSettings } from '../../src/integration/site/settings.ts';
import { readSiteData, syncSite, type SiteData } from '../../src/integration/site/sync.ts';
import { createWorkspace, setupLibrary, type Setup, type Workspace } from '../support/library.ts';

const MARK = 'Reused from the last run';

let workspace: Workspace;
beforeAll(async () => {
  workspace = await createWorkspace('cs-entry-cache-');
});
afterAll(async () => {
  await workspace.close();
});

/** A run of its own (syncSite shares one run per process until something changed). */
async function sync(setup: Setup): Promise<SiteData> {
  await new Promise((resolve) => setTimeout(resolve, 2));
  return syncSite({ config: setup.config, configFile: path.join(setup.dir, 'civitscraper.yaml'), logger: silentLogger, changedAt: Date.now() });
}

/** Marks every entry of the last run's file whose record has a model, and ties the manifest to the marked file. */
async function markEntries(setup: Setup): Promise<void> {
  const file = siteSettings(setup.config, undefined).entriesFile;
  const data = JSON.parse(await readFile(file, 'utf8')) as { entries: { data: ModelRecord }[] };
  for (const entry of data.entries) if (entry.data.model) entry.data.model.name = MARK;
  await writeFile(file, `${JSON.stringify(data)}\n`);
  const manifestFile = entryManifestFile(setup.config.scanner.cache_dir);
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { entriesStat: number[] };
  manifest.entriesStat = entriesFileStat(file) as number[];
  await writeFile(manifestFile, JSON.stringify(manifest));
}

const marked = (data: SiteData) => data.entries.filter((entry) => entry.data.model?.name === MARK).map((entry) => entry.id);
const withModel = (data: SiteData) => data.entries.filter((entry) => entry.data.model).map((entry) => entry.id);

describe('the site entry cache', () => {
  it('reuses unchanged entries, rebuilds a changed record, its details file and everything after a damaged manifest', async () => {
    const setup = await setupLibrary(workspace, 'reuse');
    const first = await sync(setup);
    const ids = withModel(first);
    expect(ids.length).toBeGreaterThan(3);

    // Nothing changed: every entry comes from the last run, details files untouched.
    await markEntries(setup);
    const detailsDir = siteDetailsDir(setup.config);
    const detailsBefore = await stat(siteDetailsFile(detailsDir, ids[0] as string));
    expect(marked(await sync(setup)).sort()).toEqual([...ids].sort());
    expect((await stat(siteDetailsFile(detailsDir, ids[0] as string))).mtimeMs).toBe(detailsBefore.mtimeMs);

    // One model file touched: its record changes (file facts), so its entry is made again; the
    // others of a different CivitAI model stay reused.
    const changed = first.entries.find((entry) => entry.id === ids[1]) as SiteData['entries'][number];
    const family = first.entries.filter((entry) => entry.data.model?.id === changed.data.model?.id).map((entry) => entry.id);
    await markEntries(setup);
    const later = new Date(Date.now() + 5_000);
    await utimes(changed.data.file.path, later, later);
    const afterTouch = await sync(setup);
    expect(marked(afterTouch)).not.toContain(changed.id);
    for (const id of family) expect(marked(afterTouch)).not.toContain(id);
    expect(marked(afterTouch).sort()).toEqual(ids.filter((id) => !family.includes(id)).sort());
    expect(afterTouch.entries.find((entry) => entry.id === changed.id)?.data.file.mtimeMs).toBe(later.getTime());

    // A details file removed from the cache folder: that entry is made again, and its file written.
    await markEntries(setup);
    const victim = ids[2] as string;
    await rm(siteDetailsFile(detailsDir, victim));
    const afterRemoval = await sync(setup);
    expect(marked(afterRemoval)).not.toContain(victim);
    expect(marked(afterRemoval)).toHaveLength(ids.length - 1);
    expect((await stat(siteDetailsFile(detailsDir, victim))).size).toBeGreaterThan(0);

    // A damaged manifest, then one of another entries file: nothing is reused.
    await markEntries(setup);
    await writeFile(entryManifestFile(setup.config.scanner.cache_dir), '{"format": 1, "entr');
    expect(marked(await sync(setup))).toEqual([]);
    await markEntries(setup);
    const file = siteSettings(setup.config, undefined).entriesFile;
    await writeFile(file, (await readFile(file, 'utf8')).replace('\n', ' \n'));
    expect(marked(await sync(setup))).toEqual([]);
    // What the run wrote is the real data again.
    expect(readSiteData(file)?.entries.filter((entry) => entry.data.model?.name === MARK)).toEqual([]);
  });

  it('hands the pages of this process the entries exactly as the file has them', async () => {
    const setup = await setupLibrary(workspace, 'shared');
    const file = siteSettings(setup.config, undefined).entriesFile;
    const check = () => {
      const copy = sharedSiteData(file, entriesStamp(statSync(file)));
      expect(copy).toBeDefined();
      // Strict: a property left undefined in memory, absent from the file, fails it.
      expect(copy?.entries).toStrictEqual(readSiteData(file)?.entries);
      expect(copy?.problems).toStrictEqual(readSiteData(file)?.problems);
    };
    await sync(setup);
    check();
    // Reused entries, with fresh sidecar values on them.
    await sync(setup);
    check();
    // A file written since (another process) is not the shared copy.
    await writeFile(file, (await readFile(file, 'utf8')).replace('\n', ' \n'));
    expect(sharedSiteData(file, entriesStamp(statSync(file)))).toBeUndefined();
  });

  it('rebuilds every entry when updates.json or the ignored versions change, and fresh sidecar values always show', async () => {
    const setup = await setupLibrary(workspace, 'salt');
    const first = await sync(setup);
    const ids = withModel(first);

    await markEntries(setup);
    await writeFile(path.join(setup.config.scanner.cache_dir, 'updates.json'), JSON.stringify({ format: 1, ignore: [123456789], models: {} }));
    expect(marked(await sync(setup))).toEqual([]);

    await markEntries(setup);
    const ignoring = { ...setup, config: { ...setup.config, updates: { ...setup.config.updates, ignore: [987654321] } } };
    expect(marked(await sync(ignoring))).toEqual([]);

    // A note added by hand in the A1111 sidecar of a reused entry is on it.
    await markEntries(ignoring);
    const target = first.entries.find((entry) => entry.id === ids[0]) as SiteData['entries'][number];
    const sidecar = path.join(path.dirname(target.data.file.path), `${target.data.file.stem}.json`);
    const document = JSON.parse(await readFile(sidecar, 'utf8')) as Record<string, unknown>;
    await writeFile(sidecar, JSON.stringify({ ...document, notes: 'written by hand' }, null, 2));
    const afterNote = await sync(ignoring);
    const entry = afterNote.entries.find((item) => item.id === target.id);
    expect(entry?.sidecar?.a1111?.notes).toBe('written by hand');
  });
});

describe('entryKeys', () => {
  const record = (id: string, modelId: number, versionKey: string, extra: Partial<ModelRecord> = {}): ModelRecord => {
    const value = {
      id,
      file: { path: `/lib/${id}.safetensors`, stem: id, size: 10, mtimeMs: 1 },
      hashes: { SHA256: id.toUpperCase() },
      images: [{ path: `/lib/${id}.jpg` }],
      civitai: { status: 'identified' },
      problems: [],
      ...extra,
    } as unknown as ModelRecord;
    defineLazy(value, 'version', new LazyValue(() => { throw new Error('a key must not load the version'); }, { key: versionKey, facts: { modelId }, model: null }));
    return value;
  };

  it('changes with a field, a body key, an image parameter body and any record of the same model, and loads nothing', () => {
    const base = entryKeys([record('a', 1, 'v1'), record('b', 1, 'v2'), record('c', 2, 'v3')], 'salt');
    expect(entryKeys([record('a', 1, 'v1'), record('b', 1, 'v2'), record('c', 2, 'v3')], 'salt')).toEqual(base);
    const changedBody = entryKeys([record('a', 1, 'v1'), record('b', 1, 'v9'), record('c', 2, 'v3')], 'salt');
    // b's version is another body: b and a (same model: a's updates read b) change, c does not.
    expect(changedBody.get('b')).not.toBe(base.get('b'));
    expect(changedBody.get('a')).not.toBe(base.get('a'));
    expect(changedBody.get('c')).toBe(base.get('c'));
    const changedField = entryKeys([record('a', 1, 'v1'), record('b', 1, 'v2'), record('c', 2, 'v3', { hashes: { SHA256: 'OTHER' } })], 'salt');
    expect(changedField.get('c')).not.toBe(base.get('c'));
    expect(changedField.get('a')).toBe(base.get('a'));
    expect(entryKeys([record('a', 1, 'v1')], 'other salt').get('a')).not.toBe(entryKeys([record('a', 1, 'v1')], 'salt').get('a'));

    const withMeta = (metaKey: string, index: number) => {
      const value = record('c', 2, 'v3');
      const metas = new LazyValue(() => { throw new Error('a key must not load image parameters'); }, { key: metaKey });
      defineLazy(value.images[0] as object, 'meta', new LazyValue(() => undefined, { metas, index }));
      return entryKeys([value], 'salt').get('c');
    };
    expect(withMeta('m1', 0)).toBe(withMeta('m1', 0));
    expect(withMeta('m2', 0)).not.toBe(withMeta('m1', 0));
    expect(withMeta('m1', 1)).not.toBe(withMeta('m1', 0));
  });

  it('an entry whose updates flag an early access holds until that access ends', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const family = [
      {
        version: { id: 2, name: 'v2', earlyAccessEndsAt: '2026-01-03T00:00:00Z' },
        model: { id: 1, modelVersions: [{ id: 3, name: 'v3', earlyAccessEndsAt: '2026-01-02T00:00:00Z' }, { id: 2, name: 'v2' }, { id: 1, name: 'v1', earlyAccessEndsAt: '2025-12-01T00:00:00Z' }] },
      },
    ] as unknown as ModelRecord[];
    expect(updatesUntil(family, undefined, now)).toBe(Date.parse('2026-01-02T00:00:00Z'));
    expect(updatesUntil(family, undefined, Date.parse('2026-01-05T00:00:00Z'))).toBeNull();
  });
});
