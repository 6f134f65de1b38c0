/**
 * The update radar's rules as pure functions, on real bodies: the recorded checkpoint lists
 * (src/dev/fixtures/civitai: DreamShaper, MeinaMix, Realistic Vision, Pony, XXMix, ReV
 * Animated, EasyNegative) and versions derived from their shapes for early access, paid,
 * on-site-only and precision variants. No server: these are cheap.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FIXTURES_DIR } from '../../src/dev/fake-civitai/index.ts';
import type { Model, ModelVersionSummary } from '../../src/integration/engine/civitai/schemas.ts';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import { fileFacts, hasCountedUpdate, keepFileFacts, modelFacts, modelUpdates, versionFacts, type LocalFile } from '../../src/integration/engine/updates/rules.ts';
import { annotateRecords } from '../../src/integration/engine/updates/stage.ts';
import { readUpdateState, updatesPath, writeUpdateState } from '../../src/integration/engine/updates/state.ts';
import { describeFamily, nameTags } from '../../src/integration/engine/updates/variant.ts';
import { slimModel } from '../../src/integration/engine/sidecars/metadata.ts';
import { hasNewerVersion, libraryContext } from '../../src/integration/site/view.ts';
import { parse, yaml } from '../config/helpers.ts';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const models = new Map<number, Model>();
for (const name of ['models-list_types-checkpoint_page1_limit10_2024-05.json', 'models-list_limit10_cursor_2025-08.json']) {
  for (const model of JSON.parse(readFileSync(path.join(DEFAULT_FIXTURES_DIR, name), 'utf8')).items as Model[]) models.set(model.id, model);
}
const model = (id: number) => models.get(id) as Model;
const versionOf = (m: Model, id: number) => m.modelVersions?.find((version) => version.id === id) as ModelVersionSummary;

/** A local file of a recorded version: its primary file's metadata, and the extension. */
function local(m: Model, id: number, ext = '.safetensors'): LocalFile {
  const version = versionOf(m, id);
  const primary = version.files?.find((file) => file.primary) ?? version.files?.[0];
  return { key: `file ${id}`, version: versionFacts(version), file: { ...fileFacts(primary), format: ext === '.ckpt' ? 'pickle' : 'safetensors' } };
}

/** Version ids offered to each local file (counted or flagged). */
function offered(m: Model | { modelVersions: ModelVersionSummary[] }, files: LocalFile[], ignore: number[] = []): Record<string, number[]> {
  const result = modelUpdates({ local: files, versions: modelFacts(m), ignore: new Set(ignore), now: NOW });
  return Object.fromEntries([...result].map(([key, value]) => [key, value.newer.map((newer) => newer.versionId)]));
}

/** A version in the shape of a recorded LoRA summary (Detail Tweaker XL v1.0), changed by `patch`. */
function derived(id: number, patch: Record<string, unknown>): ModelVersionSummary {
  const base = structuredClone(versionOf(model(122359), 135867));
  return { ...base, id, ...patch } as ModelVersionSummary;
}

describe('variant tags', () => {
  it('reads the variant from version names the way authors write them', () => {
    const tags = (name: string, type?: string) => {
      const found = nameTags(name, type);
      return found ? Object.values(found).flatMap((set) => [...set]).sort() : undefined;
    };
    expect(tags('V6 Turbo DPO merge')).toEqual(['turbo']);
    expect(tags('Lightning 4step')).toEqual(['4-step', 'lightning']);
    expect(tags('v2 (8 steps recommended)')).toEqual([]);
    expect(tags('V5.1 Hyper-Inpaint (VAE)')).toEqual(['hyper', 'inpainting']);
    expect(tags('Hyper Realistic v3')).toEqual([]);
    expect(tags('v1.2.1-inp')).toEqual(['inpainting']);
    expect(tags('v7', 'Inpainting')).toEqual(['inpainting']);
    expect(tags('V3.0 (noVAE)')).toEqual(['no-vae']);
    expect(tags('Meina V5 - Without VAE')).toEqual(['no-vae']);
    expect(tags('6.31 baked vae')).toEqual([]);
    expect(tags('v2.0-fp8_e4m3fn')).toEqual(['fp8']);
    expect(tags('dev Q4_K_M GGUF')).toEqual(['gguf', 'q4']);
    expect(tags('v2.6-fp16-no-ema')).toEqual(['fp16', 'pruned']);
    expect(tags('V11 - CKPT')).toEqual(['pickle']);
    expect(tags('EasyNegative_pt')).toEqual(['pickle']);
    expect(tags('8-diffusers')).toEqual(['diffusers']);
    expect(tags('v1.0 full body')).toEqual([]);
    expect(tags(undefined as unknown as string)).toBeUndefined();
  });
});

describe('same family: base model and variant, on the recorded checkpoint lists', () => {
  it('a different base model is not an update (Pony V6: the Turbo merge on SDXL Turbo, the 1.5 port)', () => {
    const pony = model(257749);
    expect(offered(pony, [local(pony, 290640)])).toEqual({ 'file 290640': [] });
    // The Turbo DPO merge is Pony like V6, but Turbo: another variant.
    expect(versionOf(pony, 298112).baseModel).toBe('Pony');
  });

  it('Turbo vs Base, LCM and Hyper (as base models), inpainting and diffusers are families of their own', () => {
    const dreamshaper = model(4384);
    // 8 is the newest standard version: 8 LCM (SD 1.5 LCM), 8-inpainting and 8-diffusers are not its updates.
    expect(offered(dreamshaper, [local(dreamshaper, 128713)])).toEqual({ 'file 128713': [] });
    expect(offered(dreamshaper, [local(dreamshaper, 109123)])).toEqual({ 'file 109123': [128713] });
    expect(offered(dreamshaper, [local(dreamshaper, 110021)])).toEqual({ 'file 110021': [131004] });
    const realistic = model(4201);
    expect(offered(realistic, [local(realistic, 130072)])).toEqual({ 'file 130072': [245598] });
    expect(offered(realistic, [local(realistic, 501240)])).toEqual({ 'file 501240': [] });
  });

  it('CKPT and _pt repackagings are not updates of a safetensors file; a CKPT file is offered the next release', () => {
    const meina = model(7240);
    expect(offered(meina, [local(meina, 119057)])).toEqual({ 'file 119057': [948574] });
    expect(offered(meina, [local(meina, 91193, '.ckpt')])).toEqual({ 'file 91193': [948574, 119951, 119057] });
    const easy = model(7808);
    expect(offered(easy, [local(easy, 9208)])).toEqual({ 'file 9208': [] });
  });

  it('pruned vs full: a "V2 Pruned" is not an update of a full file; precision and size changes between releases are', () => {
    const rev = model(7371);
    expect(offered(rev, [local(rev, 40248)])).toEqual({ 'file 40248': [428862, 425083, 46846] });
    // XXMix: v2.6 is fp16 full, v3.0 fp32 pruned, v4.0 fp16 pruned: both are updates; the
    // fp16-no-ema build of v2.6 is not.
    const xx = model(47274);
    expect(offered(xx, [local(xx, 67239)])).toEqual({ 'file 67239': [102222, 77903] });
  });

  it('fp8 vs fp16 of one release are not updates of each other; a later release in the same precision is', () => {
    const versions = [
      derived(13, { name: 'v3', publishedAt: '2025-03-01T00:00:00Z', files: [{ type: 'Model', metadata: { format: 'SafeTensor', fp: 'fp16' } }] }),
      derived(12, { name: 'v2 fp16', publishedAt: '2025-02-02T00:00:00Z', files: [{ type: 'Model', metadata: { format: 'SafeTensor', fp: 'fp16' } }] }),
      derived(11, { name: 'v2 fp8', publishedAt: '2025-02-01T00:00:00Z', files: [{ type: 'Model', metadata: { format: 'SafeTensor', fp: 'fp8' } }] }),
      derived(10, { name: 'v1', publishedAt: '2025-01-01T00:00:00Z', files: [{ type: 'Model', metadata: { format: 'SafeTensor' } }] }),
    ];
    const fp8 = { key: 'fp8', version: versionFacts(versions[2]!), file: { fp: 'fp8', format: 'safetensors' } };
    expect(offered({ modelVersions: versions }, [fp8])).toEqual({ fp8: [] });
    const fp16 = { key: 'fp16', version: versionFacts(versions[1]!), file: { fp: 'fp16', format: 'safetensors' } };
    expect(offered({ modelVersions: versions }, [fp16])).toEqual({ fp16: [13] });
    // A v1 whose precision nobody recorded: v2 fp16 and v2 fp8 are variants, v3 is the next release.
    const v1 = { key: 'v1', version: versionFacts(versions[3]!), file: { format: 'safetensors' } };
    expect(offered({ modelVersions: versions }, [v1])).toEqual({ v1: [13] });
  });

  it('says the family for people', () => {
    expect(describeFamily({ facts: { name: 'V6 Turbo merge', baseModel: 'SDXL Turbo' } })).toBe('SDXL Turbo · turbo');
    expect(describeFamily({ facts: { name: 'v1' } })).toBe('any base model');
  });
});

describe('published after the newest local version of the family', () => {
  it('a version older than the newest local one is no update; each family has its own newest', () => {
    const versions = [
      derived(24, { name: 'v2 Turbo', publishedAt: '2025-04-01T00:00:00Z' }),
      derived(23, { name: 'v2', publishedAt: '2025-03-01T00:00:00Z' }),
      derived(22, { name: 'v1.5', publishedAt: '2025-02-01T00:00:00Z' }),
      derived(21, { name: 'v1', publishedAt: '2025-01-01T00:00:00Z' }),
      derived(20, { name: 'v1 Turbo', publishedAt: '2024-12-01T00:00:00Z' }),
    ];
    const file = (id: number) => ({ key: `file ${id}`, version: versionFacts(versions.find((version) => version.id === id)!), file: { format: 'safetensors' } });
    // v1 Base and v2 Turbo local: v2 Base (older than v2 Turbo) is still the Base file's update.
    expect(offered({ modelVersions: versions }, [file(21), file(24)])).toEqual({ 'file 21': [23, 22], 'file 24': [] });
    // v1 and v2 local: v1.5 came out before v2, so nothing for either.
    expect(offered({ modelVersions: versions }, [file(21), file(23)])).toEqual({ 'file 21': [], 'file 23': [] });
  });

  it('XXMix republished every version within a minute, oldest last: the list order decides', () => {
    const xx = model(47274);
    expect(offered(xx, [local(xx, 51852)])['file 51852']).toEqual([102222, 77903, 67239, 60643, 56770]);
  });

  it('drafts and scheduled versions are not listed', () => {
    const versions = [derived(31, { name: 'v2', publishedAt: '2025-03-01T00:00:00Z', status: 'Scheduled' }), derived(30, { name: 'v1', publishedAt: '2025-01-01T00:00:00Z' })];
    expect(offered({ modelVersions: versions }, [{ key: 'v1', version: versionFacts(versions[1]!), file: {} }])).toEqual({ v1: [] });
  });
});

describe('flagged, not counted: early access, paid, on-site only, ignored', () => {
  const v1 = derived(40, { name: 'v1', publishedAt: '2025-01-01T00:00:00Z' });
  const flagsOf = (candidate: ModelVersionSummary, ignore: number[] = []) => {
    const result = modelUpdates({ local: [{ key: 'v1', version: versionFacts(v1), file: {} }], versions: modelFacts({ modelVersions: [candidate, v1] }), ignore: new Set(ignore), now: NOW });
    return result.get('v1')?.newer.map((newer) => newer.flags);
  };

  it('early access: availability EarlyAccess, earlyAccessEndsAt ahead, or the days of earlyAccessConfig / earlyAccessTimeFrame', () => {
    expect(flagsOf(derived(41, { name: 'v2', publishedAt: '2026-05-30T00:00:00Z', availability: 'EarlyAccess' }))).toEqual([['early-access']]);
    expect(flagsOf(derived(41, { name: 'v2', publishedAt: '2026-05-30T00:00:00Z', earlyAccessEndsAt: '2026-06-05T00:00:00Z' }))).toEqual([['early-access']]);
    expect(flagsOf(derived(41, { name: 'v2', publishedAt: '2026-05-01T00:00:00Z', earlyAccessEndsAt: '2026-05-05T00:00:00Z' }))).toEqual([[]]);
    expect(flagsOf(derived(41, { name: 'v2', publishedAt: '2026-05-30T00:00:00Z', earlyAccessConfig: { timeframe: 7, chargeForDownload: true } }))).toEqual([['early-access']]);
    expect(flagsOf(derived(41, { name: 'v2', publishedAt: '2025-05-30T00:00:00Z', earlyAccessTimeFrame: 0 }))).toEqual([[]]);
  });

  it('paid (paidAccess set) and on-site only (usageControl other than Download)', () => {
    expect(flagsOf(derived(42, { name: 'v2', publishedAt: '2025-06-01T00:00:00Z', paidAccess: { buzz: 500 } }))).toEqual([['paid']]);
    expect(flagsOf(derived(42, { name: 'v2', publishedAt: '2025-06-01T00:00:00Z', paidAccess: null }))).toEqual([[]]);
    expect(flagsOf(derived(43, { name: 'v2', publishedAt: '2025-06-01T00:00:00Z', usageControl: 'Generation' }))).toEqual([['on-site-only']]);
    expect(flagsOf(derived(43, { name: 'v2', publishedAt: '2025-06-01T00:00:00Z', usageControl: 'Download' }))).toEqual([[]]);
  });

  it('ignored versions are flagged', () => {
    expect(flagsOf(derived(44, { name: 'v2', publishedAt: '2025-06-01T00:00:00Z' }), [44])).toEqual([['ignored']]);
  });
});

/** A record of the Semi-realistic illustrious LoRA (model 1580878), as the engine builds it. */
function lora(versionId: number, extra: Partial<ModelRecord> = {}): ModelRecord {
  const body = JSON.parse(readFileSync(path.join(DEFAULT_FIXTURES_DIR, 'models_1580878_lora_illustrious.json'), 'utf8')) as Model;
  const version = versionOf(body, versionId);
  return {
    id: `lora-${versionId}`,
    file: { path: `/lib/${versionId}.safetensors`, inputPathId: 'loras', inputType: 'LORA', relativePath: `${versionId}.safetensors`, folder: '', name: `${versionId}.safetensors`, stem: String(versionId), ext: '.safetensors', size: 1, mtimeMs: 1 },
    hashes: { SHA256: version.files?.[0]?.hashes?.SHA256 ?? '' },
    civitai: { status: 'identified', checkedAt: '2025-08-01T00:00:00Z' },
    version: { ...version, modelId: 1580878 },
    model: keepFileFacts(slimModel(body), body),
    images: [],
    problems: [],
    ...extra,
  };
}

describe('records: the scan stage and the gallery', () => {
  const v2 = { id: 2000001, name: 'v2.0', baseModel: 'Illustrious', publishedAt: '2025-09-01T00:00:00Z', files: [{ format: 'safetensors' }] };
  const snapshot = (versions: object[], fetchedAt = '2025-09-02T00:00:00Z') => ({ format: 1 as const, ignore: [], models: { '1580878': { fetchedAt, versions: versions as never } } });

  it('keeps the files` metadata in the slim model, and judges from it as from the full body', () => {
    const record = lora(1788945);
    expect(record.model?.modelVersions?.[0]?.files).toEqual([{ type: 'Model', metadata: { format: 'SafeTensor' } }]);
    const body = JSON.parse(readFileSync(path.join(DEFAULT_FIXTURES_DIR, 'models_1580878_lora_illustrious.json'), 'utf8')) as Model;
    expect(modelFacts(record.model as Model)).toEqual(modelFacts(body));
  });

  it('the answer of the last check wins when CivitAI gave it later than the record`s; ignore lists from the config and the CLI both apply', () => {
    const records = [lora(1788945)];
    annotateRecords(records, { state: snapshot([v2, ...modelFacts(records[0]!.model as Model)]), ignore: [], now: NOW });
    expect(records[0]!.updates?.map((newer) => [newer.versionId, newer.flags])).toEqual([[2000001, []], [1967584, []]]);
    expect(hasNewerVersion(records[0]!, libraryContext(records), { domains: { sfw: 'civitai.com', nsfw: 'civitai.red' }, nsfwThreshold: 4 })).toBe(true);
    // Older than the record's own data: not used.
    const stale = [lora(1788945)];
    annotateRecords(stale, { state: snapshot([v2], '2025-01-01T00:00:00Z'), ignore: [], now: NOW });
    expect(stale[0]!.updates?.map((newer) => newer.versionId)).toEqual([1967584]);
    // Both local: nothing; v2 ignored (config) and v1.5 local: flagged only, and the gallery shows no badge.
    const both = [lora(1788945), lora(1967584)];
    annotateRecords(both, { state: { ...snapshot([v2, ...modelFacts(both[0]!.model as Model)]), ignore: [] }, ignore: [2000001], now: NOW });
    expect(both.map((record) => record.updates?.map((newer) => [newer.versionId, newer.flags]))).toEqual([[[2000001, ['ignored']]], [[2000001, ['ignored']]]]);
    expect(both.some((record) => hasNewerVersion(record, libraryContext(both), { domains: { sfw: 'civitai.com', nsfw: 'civitai.red' }, nsfwThreshold: 4 }))).toBe(false);
  });

  it('a model CivitAI deleted offers nothing; a failed parent lookup does not make the stored data look fresh', () => {
    const removed = [lora(1788945, { civitai: { status: 'identified', checkedAt: '2025-08-01T00:00:00Z', removedFromCivitai: true } })];
    annotateRecords(removed, { state: snapshot([v2]), ignore: [], now: NOW });
    expect(removed[0]!.updates).toEqual([]);
    const failed = [lora(1788945, { civitai: { status: 'identified', checkedAt: '2026-05-01T00:00:00Z' }, problems: [{ stage: 'enrich', message: 'parent model 1580878: 503' }] })];
    annotateRecords(failed, { state: snapshot([v2, ...modelFacts(failed[0]!.model as Model)]), ignore: [], now: NOW });
    expect(failed[0]!.updates?.[0]?.versionId).toBe(2000001);
  });

  it('without the engine`s `updates`, the gallery works the rules out from the record (and only counted updates show)', () => {
    const record = lora(1788945);
    expect(hasCountedUpdate(record, () => false)).toBe(true);
    expect(hasCountedUpdate(record, (id) => id === 1967584)).toBe(false);
    expect(hasCountedUpdate({ ...record, updates: [{ versionId: 5, name: 'v9', flags: ['paid'] }] }, () => false)).toBe(false);
    expect(hasCountedUpdate({ ...record, updates: [{ versionId: 5, name: 'v9', flags: [] }] }, () => false)).toBe(true);
  });
});

describe('config and the ignore file', () => {
  it('updates.ignore is a list of version ids, empty by default', () => {
    const base = yaml`
      input_paths:
        loras: { path: ./Lora, type: LORA }
    `;
    expect(parse(base).config.updates).toEqual({ ignore: [] });
    expect(parse(`${base}updates:\n  ignore: [1967584, 42]\n`).config.updates.ignore).toEqual([1967584, 42]);
    expect(() => parse(`${base}updates:\n  ignore: [abc]\n`)).toThrow(/ignore/);
  });

  it('updates.json round-trips; a broken one is reported and read as empty, never fatal', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cs-updates-state-'));
    try {
      expect(await readUpdateState(dir)).toEqual({ format: 1, ignore: [], models: {} });
      await writeUpdateState(dir, { format: 1, ignore: [5, 3, 5], models: { '7': { fetchedAt: '2025-01-01T00:00:00Z', versions: [{ id: 1 }] } } });
      expect(await readUpdateState(dir)).toMatchObject({ ignore: [3, 5], models: { '7': { versions: [{ id: 1 }] } } });
      await writeFile(updatesPath(dir), '{ not json');
      const warnings: string[] = [];
      const logger = { debug() {}, info() {}, warn: (message: string) => warnings.push(message), error() {} };
      expect(await readUpdateState(dir, logger)).toEqual({ format: 1, ignore: [], models: {} });
      expect(warnings.join('\n')).toMatch(/not valid JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
