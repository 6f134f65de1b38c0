/**
 * The parts of the site that need no browser: the curation file (parsing, errors that name the
 * file and the key, ids of renamed files, the CLI's exit code), the missing-file grace period,
 * notes and weights read from A1111 and ComfyUI-Lora-Manager sidecars, the resources of an
 * image's generation data, and the model page's cacheKey covering all of them.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, selectJobs, type ScanJob } from '../../src/integration/engine/config/index.ts';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import { a1111UserValues } from '../../src/integration/engine/sidecars/a1111.ts';
import { loraManagerUserValues } from '../../src/integration/engine/sidecars/compat.ts';
import { CurationError, curationFor, parseCuration, readCuration } from '../../src/integration/site/curation.ts';
import { carryMissing, organizeMovedPaths, type CarryOptions } from '../../src/integration/site/missing.ts';
import { modelPageKey } from '../../src/integration/site/page-key.ts';
import { imageResources, resourceLookup, resourceRefs } from '../../src/integration/site/resources.ts';
import { readSidecarValues, sidecarValuesCacheFile } from '../../src/integration/site/sidecar-values.ts';
import type { SiteEntry } from '../../src/integration/site/sync.ts';
import { libraryContext } from '../../src/integration/site/view.ts';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cs-curation-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const SHA = (seed: string) => seed.repeat(64).slice(0, 64).toUpperCase();

function record(id: string, options: { sha?: string; path?: string; versionId?: number; input?: string } = {}): ModelRecord {
  const file = options.path ?? `/lib/Lora/${id}.safetensors`;
  return {
    id,
    file: {
      path: file,
      inputPathId: options.input ?? 'loras',
      inputType: 'LORA',
      relativePath: path.basename(file),
      folder: '',
      name: path.basename(file),
      stem: path.basename(file, '.safetensors'),
      ext: '.safetensors',
      size: 10,
      mtimeMs: 1,
    },
    hashes: options.sha ? { SHA256: options.sha } : {},
    civitai: { status: options.versionId ? 'identified' : 'not-found' },
    ...(options.versionId ? { version: { id: options.versionId, modelId: 1, name: 'v1' } as ModelRecord['version'] } : {}),
    images: [],
    problems: [],
  };
}

const entry = (data: ModelRecord, more: Partial<SiteEntry> = {}): SiteEntry => ({ id: data.id, data, ...more });
const FORMAT = 'civitscraper-personal';

describe('the curation file', () => {
  it('keeps what the browser would keep: tags trimmed and deduplicated, weights rounded, weight 1 and empty entries dropped', () => {
    const curation = parseCuration(
      JSON.stringify({
        format: FORMAT,
        version: 1,
        exported: '2026-01-01T00:00:00.000Z',
        models: {
          'a-0123456789': { name: 'A', favourite: true, tags: ['  Style ', 'style', 'ink'], note: 'hello', weight: 0.7000001, extra: 'ignored' },
          'b-0123456789': { weight: 1, favourite: false, note: '   ' },
          'c-0123456789': { hidden: true },
        },
      }),
      '/x/curation.json',
      'site.curation',
    );
    expect(Object.fromEntries(curation.models)).toEqual({
      'a-0123456789': { favourite: true, tags: ['Style', 'ink'], note: 'hello', weight: 0.7 },
      'c-0123456789': { hidden: true },
    });
  });

  it('refuses a file that is not a gallery export, naming the file, the config key and the bad keys', () => {
    const bad = (text: string) => {
      try {
        parseCuration(text, '/x/curation.json', 'site.curation');
      } catch (error) {
        expect(error).toBeInstanceOf(CurationError);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad('{ nope')).toMatch(/^the curation file \/x\/curation\.json \(site\.curation\) is not valid JSON/);
    expect(bad(JSON.stringify({ models: {} }))).toMatch(/`format`: must be "civitscraper-personal"/);
    const message = bad(JSON.stringify({ format: FORMAT, models: { 'a-1': { weight: 'heavy', tags: 'x' }, 'bad id!': {} } }));
    expect(message).toContain('/x/curation.json (site.curation)');
    expect(message).toContain('`models.a-1.weight`');
    expect(message).toContain('`models.a-1.tags`');
    expect(message).toContain('`models.bad id!`');
  });

  it('a missing file is an error; a file is read again only when it changes', async () => {
    const file = path.join(work, 'curation.json');
    expect(() => readCuration(file, 'site.curation')).toThrow(/does not exist; export it from the gallery/);
    await writeFile(file, JSON.stringify({ format: FORMAT, models: { 'a-0123456789': { favourite: true } } }));
    const first = readCuration(file, 'site.curation');
    expect(readCuration(file, 'site.curation')).toBe(first);
    await writeFile(file, JSON.stringify({ format: FORMAT, models: { 'a-0123456789': { hidden: true } } }));
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    expect(readCuration(file, 'site.curation').models.get('a-0123456789')).toEqual({ hidden: true });
  });

  it('follows a renamed file by the SHA-256 prefix in its id, when only one model has it', () => {
    const curation = parseCuration(
      JSON.stringify({ format: FORMAT, models: { 'old-name-aaaaaaaaaa': { favourite: true }, 'gone-bbbbbbbbbb': { hidden: true }, 'twice-cccccccccc': { note: 'x' }, 'same-dddddddddd': { note: 'kept' } } }),
      '/c.json',
      'site.curation',
    );
    const records = [
      record('new-name-aaaaaaaaaa', { sha: SHA('a') }),
      record('one-cccccccccc', { sha: SHA('c') }),
      record('one-cccccccccc-2', { sha: SHA('c') }),
      record('same-dddddddddd', { sha: SHA('d') }),
    ];
    expect(Object.fromEntries(curationFor(curation, records))).toEqual({ 'new-name-aaaaaaaaaa': { favourite: true }, 'same-dddddddddd': { note: 'kept' } });
  });

  it('site.curation resolves against the config file’s folder; the CLI stops with exit 2 before scanning', async () => {
    const dir = path.join(work, 'cli');
    await mkdir(dir, { recursive: true });
    const yaml = `input_paths:\n  loras: { path: ${JSON.stringify(path.join(dir, 'Lora'))}, type: LORA }\nsite:\n  curation: mine/curation.json\n`;
    const { config } = parseConfig(yaml, path.join(dir, 'civitscraper.yaml'), { env: {} });
    expect(config.site).toEqual({ curation: path.join(dir, 'mine', 'curation.json'), missing_grace_days: 7 });
    await writeFile(path.join(dir, 'civitscraper.yaml'), yaml);
    await mkdir(path.join(dir, 'mine'));
    await writeFile(path.join(dir, 'mine', 'curation.json'), JSON.stringify({ format: FORMAT, models: { 'a-1': { favourite: 'yes' } } }));
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, ['bin/civitscraper.mjs', 'build', '-c', path.join(dir, 'civitscraper.yaml'), '--out', path.join(dir, 'site')], { env: { ...process.env, HOME: dir } }, (error, _stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${path.join(dir, 'mine', 'curation.json')} (site.curation)`);
    expect(result.stderr).toContain('`models.a-1.favourite`');
    expect(result.stderr).not.toMatch(/discover:/);
  });
});

describe('missing files', () => {
  const DAY = 86_400_000;
  const now = Date.UTC(2026, 0, 10);
  const options = (more: Partial<CarryOptions> = {}): CarryOptions => ({
    now,
    graceDays: 7,
    inputs: new Set(['loras']),
    exists: () => false,
    movedAway: new Set(),
    ...more,
  });

  it('keeps an entry whose file is gone, from the first run that missed it until the grace period ends', () => {
    const gone = entry(record('gone-1', { sha: SHA('1') }));
    const kept = carryMissing([gone], [], options());
    expect(kept).toEqual([{ ...gone, missing: { since: new Date(now).toISOString() } }]);
    // Later runs keep the first time it was missed.
    const later = carryMissing(kept, [], options({ now: now + 6 * DAY }));
    expect(later[0]?.missing).toEqual({ since: new Date(now).toISOString() });
    expect(carryMissing(later, [], options({ now: now + 7 * DAY + 1 }))).toEqual([]);
    expect(carryMissing([gone], [], options({ graceDays: 0 }))).toEqual([]);
  });

  it('a file found elsewhere (same bytes), moved by organize, still on disk or of an input path not scanned is not missing', () => {
    const moved = entry(record('moved-2', { sha: SHA('2') }));
    const organized = entry(record('organized-3', { sha: SHA('3') }));
    const present = entry(record('present-4', { sha: SHA('4') }));
    const other = entry(record('other-5', { sha: SHA('5'), input: 'checkpoints' }));
    const replaced = entry(record('replaced-6', { sha: SHA('6'), path: '/lib/Lora/same.safetensors' }));
    const current = [entry(record('renamed-2', { sha: SHA('2'), path: '/lib/Lora/renamed.safetensors' })), entry(record('changed-7', { sha: SHA('7'), path: '/lib/Lora/same.safetensors' }))];
    const result = carryMissing([moved, organized, present, other, replaced], current, options({
      exists: (file) => file === present.data.file.path,
      movedAway: new Set([organized.data.file.path]),
    }));
    expect(result.map((item) => item.id)).toEqual(['renamed-2', 'changed-7']);
  });

  it('reads the moves of `civitscraper organize` from its journal (an undone move is no move)', async () => {
    const cache = path.join(work, 'journal-cache');
    const journal = path.join(cache, 'organize-journal');
    await mkdir(journal, { recursive: true });
    const lines = (runId: string, rolledBack: boolean) =>
      [
        { type: 'begin', format: 1, kind: 'organize', runId, startedAt: '2026-01-01T00:00:00.000Z' },
        { type: 'intent', seq: 1, unit: 0, op: { kind: 'move', from: `/lib/${runId}.safetensors`, to: `/sorted/${runId}.safetensors`, temp: '/sorted/.t' } },
        { type: 'done', seq: 1 },
        rolledBack ? { type: 'rolled-back', at: '2026-01-01T00:00:01.000Z' } : { type: 'commit', at: '2026-01-01T00:00:01.000Z' },
      ].map((line) => JSON.stringify(line)).join('\n') + '\n';
    await writeFile(path.join(journal, '2026-01-01T00-00-00-000Z-aaaaaa.jsonl'), lines('kept', false));
    await writeFile(path.join(journal, '2026-01-01T00-00-00-001Z-bbbbbb.jsonl'), lines('undone', true));
    expect([...(await organizeMovedPaths(cache))]).toEqual([path.resolve('/lib/kept.safetensors')]);
    expect((await organizeMovedPaths(path.join(work, 'no-cache'))).size).toBe(0);
  });
});

describe('notes and weights in other tools’ sidecars', () => {
  it('A1111: notes, a preferred weight (0 is “not set”), activation text only when it is not ours', () => {
    expect(a1111UserValues({ notes: ' Use with X ', 'preferred weight': 0.65, 'activation text': 'mine' })).toEqual({ notes: 'Use with X', weight: 0.65, activationText: 'mine' });
    expect(a1111UserValues({ 'preferred weight': 0, notes: '', 'activation text': 'word', civitscraper: { a1111: { 'activation text': 'word' } } })).toEqual({});
    expect(a1111UserValues({ 'preferred weight': '0.8' })).toEqual({ weight: 0.8 });
  });

  it('ComfyUI-Lora-Manager: notes and the strength in usage_tips (JSON text or an object)', () => {
    expect(loraManagerUserValues({ notes: 'n', usage_tips: '{"strength": 0.75, "clip_skip": 2}' })).toEqual({ notes: 'n', weight: 0.75 });
    expect(loraManagerUserValues({ usage_tips: { strength: 1.2 } })).toEqual({ weight: 1.2 });
    expect(loraManagerUserValues({ usage_tips: 'not json', notes: 3 })).toEqual({});
  });

  it('reads each sidecar once: unchanged files come from the cache, changed ones are read again', async () => {
    const dir = path.join(work, 'sidecars');
    await mkdir(dir, { recursive: true });
    const { config } = parseConfig(`input_paths:\n  loras: { path: ${JSON.stringify(dir)}, type: LORA }\nscanner:\n  cache_dir: ${JSON.stringify(path.join(dir, '.cache'))}\n`, path.join(dir, 'c.yaml'), { env: {} });
    const scan = selectJobs(config, {})[0]?.job as ScanJob;
    const lora = record('a', { path: path.join(dir, 'a.safetensors') });
    await writeFile(path.join(dir, 'a.json'), JSON.stringify({ notes: 'first', 'preferred weight': 0.5 }));
    await writeFile(path.join(dir, 'a.metadata.json'), JSON.stringify({ usage_tips: '{"strength":0.7}' }));
    const first = await readSidecarValues([{ record: lora, job: scan }], config.scanner.cache_dir);
    expect(first.get('a')).toEqual({ a1111: { notes: 'first', weight: 0.5 }, loraManager: { weight: 0.7 } });
    const cache = JSON.parse(await readFile(sidecarValuesCacheFile(config.scanner.cache_dir), 'utf8'));
    expect(Object.keys(cache.files).sort()).toEqual([path.join(dir, 'a.json'), path.join(dir, 'a.metadata.json')]);
    // The cache answers for an unchanged file: a forged cached value shows it was not read.
    cache.files[path.join(dir, 'a.json')][2] = { notes: 'from the cache' };
    await writeFile(sidecarValuesCacheFile(config.scanner.cache_dir), JSON.stringify(cache));
    expect((await readSidecarValues([{ record: lora, job: scan }], config.scanner.cache_dir)).get('a')?.a1111).toEqual({ notes: 'from the cache' });
    await writeFile(path.join(dir, 'a.json'), JSON.stringify({ notes: 'edited by hand', 'preferred weight': 0.55 }));
    await utimes(path.join(dir, 'a.json'), new Date(), new Date(Date.now() + 5000));
    expect((await readSidecarValues([{ record: lora, job: scan }], config.scanner.cache_dir)).get('a')?.a1111).toEqual({ notes: 'edited by hand', weight: 0.55 });
  });
});

describe('resources of an image', () => {
  it('merges every form CivitAI returns (civitaiResources, resources, hashes, A1111 lines) and links local files', async () => {
    // A real body: Hyphoria's images name their LoRAs by hash, by name and by version id.
    const body = JSON.parse(await readFile('src/dev/fixtures/civitai/model-version_1805971_checkpoint_illustrious_nsfw-images.json', 'utf8'));
    const metas = (body.images as { meta?: Record<string, unknown> }[]).map((image) => image.meta).filter(Boolean) as Record<string, unknown>[];
    const withHashes = metas.find((meta) => meta.hashes && (meta.hashes as Record<string, string>)['lora:Avarice_v0.4'] && Array.isArray(meta.resources)) as Record<string, unknown>;
    const local = record('avarice-faa5d8790e', { sha: `FAA5D8790E${'0'.repeat(54)}` });
    const lookup = resourceLookup([local], new Map([[local.id, 'Avarice (local)']]), 'civitai.com');
    const found = imageResources(withHashes, lookup);
    const avarice = found.filter((resource) => resource.kind === 'lora' && resource.hash === 'faa5d8790e');
    expect(avarice).toEqual([{ kind: 'lora', name: 'Avarice (local)', hash: 'faa5d8790e', weight: 0.5, localId: local.id }]);
    expect(found.filter((resource) => resource.kind === 'checkpoint')).toHaveLength(1);
    const byVersion = metas.find((meta) => Array.isArray(meta.civitaiResources)) as Record<string, unknown>;
    const remote = imageResources(byVersion, lookup).filter((resource) => resource.versionId !== undefined);
    expect(remote.length).toBeGreaterThan(0);
    for (const resource of remote) expect(resource.url).toBe(`https://civitai.com/model-versions/${resource.versionId}`);
    expect(imageResources({ prompt: 'nothing else' }, lookup)).toEqual([]);
    expect(imageResources({ 'Lora hashes': '"style: 0123456789ab, broken"' }, lookup)).toEqual([{ kind: 'lora', name: 'style', hash: '0123456789ab' }]);
  });
});

describe('the model page’s cacheKey', () => {
  it('changes with the curation values, the sidecar values, the missing flag and the local files its images name', () => {
    const gamma = record('gamma-1111111111', { sha: SHA('1'), versionId: 30 });
    const alpha = record('alpha-2222222222', { sha: SHA('2'), versionId: 10 });
    const refs = resourceRefs([{ civitaiResources: [{ type: 'lora', modelVersionId: 10, weight: 0.5 }] }]);
    const page = entry(gamma, { ...(refs ? { refs } : {}) });
    const names = new Map([[gamma.id, 'Gamma'], [alpha.id, 'Alpha']]);
    const key = (item: SiteEntry, records: ModelRecord[], more = {}) =>
      modelPageKey(item, libraryContext(records), names, path.join(work, 'no-details'), { resources: resourceLookup(records, names, 'civitai.com'), ...more });
    const base = key(page, [gamma]);
    expect(key(page, [gamma])).toBe(base);
    expect(key(page, [gamma, alpha])).not.toBe(base);
    expect(key(page, [gamma], { curation: { favourite: true } })).not.toBe(base);
    expect(key({ ...page, sidecar: { a1111: { notes: 'x' } } }, [gamma])).not.toBe(base);
    expect(key({ ...page, missing: { since: '2026-01-01T00:00:00.000Z' } }, [gamma])).not.toBe(base);
  });
});
