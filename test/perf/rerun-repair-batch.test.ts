/**
 * The no-change rerun's repair check, batched (issue #14 with previews): every saved preview and
 * compat file is still stat'ed in one batch per stage, each answer found by its place in the
 * batch; the sidecar stamps are handed over one by one. Each of these answers exactly what the
 * per-file check answers. The repairs themselves (a deleted preview, a deleted .civitai.info, an
 * emptied preview) are test/hardening/repair.test.ts.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompatOutputSchema } from '../../src/integration/engine/config/schema.ts';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import { contentMany } from '../../src/integration/engine/scan/stat-many.ts';
import { storedFromSection, type SidecarRead } from '../../src/integration/engine/sidecars/metadata.ts';
import type { SidecarLayout } from '../../src/integration/engine/sidecars/paths.ts';
import { hasContent, nothingMissingKnown, pathsToProbe } from '../../src/integration/engine/sidecars/repair.ts';
import { lazyOf } from '../../src/integration/engine/records/lazy.ts';
import { openStateStore, STATE_FILE_NAME, type SidecarStamp, type StateStore } from '../../src/integration/engine/state/index.ts';

let dir: string;
const stores: StateStore[] = [];
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-repair-batch-'));
});
afterAll(async () => {
  for (const store of stores) store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('one batch of stats answers as a stat per file does', () => {
  it('content only for a regular file with bytes (also through a symlink); empty, missing, a folder, a path under a file: none', async () => {
    const at = (name: string) => path.join(dir, name);
    await writeFile(at('full.jpeg'), 'x');
    await writeFile(at('empty.jpeg'), '');
    await mkdir(at('folder.jpeg'));
    await symlink(at('full.jpeg'), at('link.jpeg'));
    await symlink(at('gone.jpeg'), at('broken.jpeg'));
    const paths = ['full.jpeg', 'empty.jpeg', 'missing.jpeg', 'folder.jpeg', 'full.jpeg/under', 'link.jpeg', 'broken.jpeg'].map(at);
    const content = await contentMany(paths);
    expect([...content]).toEqual([1, 0, 0, 0, 0, 1, 0]);
    const one = await Promise.all(paths.map((file) => hasContent(file)));
    expect([...content].map((flag) => flag === 1)).toEqual(one);
    expect([...(await contentMany([]))]).toEqual([]);
  });
});

describe("the sidecar stage's batch: each model's answers by their place in it", () => {
  const compat = CompatOutputSchema.parse({});
  const layoutOf = (stem: string): SidecarLayout => ({
    metadataPath: `/lib/${stem}.json`,
    imagesDir: '/lib',
    compatDir: '/lib',
    civitaiInfoPath: `/lib/${stem}.civitai.info`,
    a1111Path: `/lib/${stem}.json`,
    webuiPreviewPath: (ext) => `/lib/${stem}.preview${ext}`,
    previewName: (index, ext) => `${stem}.preview${index}${ext}`,
  });
  const recordOf = (stem: string) => ({ images: [{ url: 'https://x/1.jpeg', type: 'image', nsfwLevel: 1, path: `/lib/${stem}.preview1.jpeg` }] }) as unknown as ModelRecord;
  const ownWith = (webuiPreview: string): SidecarRead =>
    ({ kind: 'own', stored: { webuiPreview, images: [] }, raw: {}, partial: true, a1111: { ours: ['sd version'], emptyAtTop: false } }) as unknown as SidecarRead;

  it("stats the WebUI preview an earlier run wrote once when it is the one asked for, and apart when it has another extension; a sidecar not ours: nothing", () => {
    const paths: string[] = [];
    expect(pathsToProbe(recordOf('a'), layoutOf('a'), ownWith('/lib/a.preview.jpeg'), compat, paths)).toBe(2);
    expect(pathsToProbe(recordOf('b'), layoutOf('b'), ownWith('/lib/b.preview.png'), compat, paths)).toBe(3);
    expect(pathsToProbe(recordOf('c'), layoutOf('c'), { kind: 'a1111', raw: {} }, compat, paths)).toBe(0);
    expect(paths).toEqual(['/lib/a.civitai.info', '/lib/a.preview.jpeg', '/lib/b.civitai.info', '/lib/b.preview.jpeg', '/lib/b.preview.png']);
  });

  it('vouches for a model only when its own .civitai.info and WebUI preview have content', () => {
    const ask = (content: number[], at: number, stem = 'a') =>
      nothingMissingKnown({ record: recordOf(stem), layout: layoutOf(stem), existing: ownWith(`/lib/${stem}.preview.jpeg`), compat, a1111Enabled: true, content: Uint8Array.from(content), at });
    expect(ask([1, 1], 0)).toEqual([]);
    // A .civitai.info deleted, a WebUI preview emptied: findMissingFiles has to look.
    expect(ask([0, 1], 0)).toBeUndefined();
    expect(ask([1, 0], 0)).toBeUndefined();
    // Another model's answers come first in the batch; this model's are its own.
    expect(ask([0, 0, 1, 1], 2, 'b')).toEqual([]);
    expect(ask([1, 1, 1, 0], 2, 'b')).toBeUndefined();
  });
});

describe("lookupMany's stamps, one by one", () => {
  for (const count of [40, 700]) {
    it(`hands each stamp that holds to the caller with the caller's own entry, and keeps none (${count} sidecars: ${count < 512 ? 'a search each' : 'the whole table read'})`, () => {
      const state = openStateStore(path.join(dir, `cache-${count}`));
      stores.push(state);
      const entries = Array.from({ length: count }, (_, index) => ({
        path: `/lib/model-${index}.json`,
        model: { dev: 1, ino: 10 + index, size: 10, mtimeMs: 1_700_000_000_000 },
        sidecar: { size: 5, mtimeMs: 1_700_000_100_000.5, ctimeMs: 1_700_000_100_000.5, ino: 9000 + index },
        index,
      }));
      state.transaction(() => {
        for (const entry of entries) {
          const section = { format: 2, hashes: { SHA256: `${entry.index}`.padStart(64, '0') }, images: [{ url: `https://x/${entry.index}.jpeg`, type: 'image', nsfwLevel: 1, file: `model-${entry.index}.preview1.jpeg` }] };
          state.sidecars.remember(entry.path, { model: entry.model, sidecar: entry.sidecar, section, top: {} });
        }
      });
      // Edited since its stamp: not handed over.
      const wanted = entries.map((entry) => (entry.index === 7 ? { ...entry, sidecar: { ...entry.sidecar, mtimeMs: 1 } } : entry));
      const seen: { entry: (typeof entries)[number]; stamp: SidecarStamp }[] = [];
      const found = state.sidecars.lookupMany(wanted, () => undefined, undefined, (entry, stamp) => seen.push({ entry, stamp }));
      expect(found.size).toBe(0);
      expect(seen.length).toBe(count - 1);
      expect(seen.some(({ entry }) => entry.index === 7)).toBe(false);
      for (const { entry, stamp } of seen) {
        expect(entry).toBe(wanted[entry.index]);
        expect(stamp.section.hashes).toEqual({ SHA256: `${entry.index}`.padStart(64, '0') });
        // As stored data has them: the path absolute, beside the sidecar.
        expect(stamp.section.images).toEqual([{ url: `https://x/${entry.index}.jpeg`, type: 'image', nsfwLevel: 1, path: `/lib/model-${entry.index}.preview1.jpeg` }]);
      }
      // Without `each`, the same stamps by path.
      const byPath = state.sidecars.lookupMany(wanted, () => undefined);
      expect([...byPath.keys()].sort()).toEqual(seen.map(({ entry }) => entry.path).sort());
    });
  }
});

describe("a stamp's images", () => {
  it('are kept as stored data has them and used as they are; a stamp of the release before (relative `file`) still gives absolute paths', () => {
    const storeDir = path.join(dir, 'stamp-images');
    const state = openStateStore(storeDir);
    stores.push(state);
    const model = { dev: 1, ino: 2, size: 10, mtimeMs: 1_700_000_000_000 };
    const sidecar = { size: 5, mtimeMs: 1_700_000_100_000.5, ctimeMs: 1_700_000_100_000.5, ino: 3 };
    const section = {
      format: 2,
      file: { name: 'a.safetensors', size: 10, mtimeMs: 1_700_000_000_000 },
      hashes: { SHA256: 'AB' },
      images: [
        { url: 'https://x/1.jpeg', type: 'image', nsfwLevel: 1, meta: { prompt: 'a castle' }, file: 'a.preview1.jpeg' },
        { url: 'https://x/2.mp4', type: 'video', nsfwLevel: 1, file: 'a.preview2.mp4', still: 'a.preview2.still.webp' },
      ],
    };
    state.sidecars.remember('/lib/shelf/a.json', { model, sidecar, section, top: {} });
    const stamp = state.sidecars.lookup('/lib/shelf/a.json', model, sidecar) as SidecarStamp;
    const stored = storedFromSection(stamp.section, '/lib/shelf', stamp.bodies);
    expect(stored.images.map(({ path: imagePath, still }) => [imagePath, still])).toEqual([
      ['/lib/shelf/a.preview1.jpeg', undefined],
      ['/lib/shelf/a.preview2.mp4', '/lib/shelf/a.preview2.still.webp'],
    ]);
    // No copy of each image: the stamp's own objects, their parameters still unparsed.
    expect(stored.images[0]).toBe((stamp.section.images as object[])[0]);
    expect(lazyOf(stored.images[0] as object, 'meta')).toBeDefined();
    expect(stored.images[0]?.meta).toEqual({ prompt: 'a castle' });

    // The release before kept the section's relative names.
    const raw = new DatabaseSync(path.join(storeDir, STATE_FILE_NAME));
    const row = raw.prepare('SELECT body FROM sidecar_stamps WHERE path = ?').get('/lib/shelf/a.json') as { body: string };
    const body = JSON.parse(row.body) as { section: { images: Record<string, unknown>[] } };
    body.section.images = body.section.images.map(({ path: imagePath, still, ...image }) => ({
      ...image,
      file: path.basename(imagePath as string),
      ...(still ? { still: path.basename(still as string) } : {}),
    }));
    raw.prepare('UPDATE sidecar_stamps SET body = ? WHERE path = ?').run(JSON.stringify(body), '/lib/shelf/a.json');
    raw.close();
    const old = state.sidecars.lookup('/lib/shelf/a.json', model, sidecar) as SidecarStamp;
    const fromOld = storedFromSection(old.section, '/lib/shelf', old.bodies);
    expect(fromOld.images.map(({ path: imagePath, still }) => [imagePath, still])).toEqual([
      ['/lib/shelf/a.preview1.jpeg', undefined],
      ['/lib/shelf/a.preview2.mp4', '/lib/shelf/a.preview2.still.webp'],
    ]);
    expect(fromOld.images.every((image) => !('file' in image))).toBe(true);
    expect(fromOld.images[0]?.meta).toEqual({ prompt: 'a castle' });
  });
});
