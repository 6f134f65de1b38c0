/**
 * The gallery's logic without a browser: the index builder (integration/site/gallery-index.ts)
 * read back by the same engine the page runs (components/client/gallery-core.js), checked
 * against counts and orders computed the slow, obvious way from the records.
 */
import { describe, expect, it } from 'vitest';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import { assignRecordIds } from '../../src/integration/engine/records/id.ts';
import { buildGalleryIndex, DAY_ZERO } from '../../src/integration/site/gallery-index.ts';
import { publishTargets, redirectPage } from '../../src/integration/site/publish.ts';
import { summarizeTraining, trainingOf } from '../../src/integration/engine/records/training.ts';
import {
  blurhashColour,
  duplicatesOf,
  generationParams,
  hasNewerVersion,
  inSite,
  isDuplicate,
  levelIndex,
  libraryContext,
  modelView,
  usageLine,
  versionRows,
} from '../../src/integration/site/view.ts';

// A classic script (no exports): importing it defines globalThis.CSCore.
const coreScript = '../../src/components/client/gallery-core.js';
await import(/* @vite-ignore */ coreScript);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const core = (globalThis as any).CSCore;

const settings = {
  domains: { sfw: 'civitai.com', nsfw: 'civitai.red' },
  nsfwThreshold: 4,
  sfwOnly: false,
  modelPages: true,
};

interface Spec {
  stem: string;
  folder?: string;
  input?: string;
  modelId?: number;
  versionId?: number;
  name?: string;
  type?: string;
  base?: string;
  creator?: string;
  tags?: string[];
  triggers?: string[];
  created?: string;
  downloads?: number;
  nsfwLevel?: number;
  status?: ModelRecord['civitai']['status'];
  versions?: { id: number; name: string; createdAt: string }[];
  size?: number;
  mtime?: number;
  imageLevel?: number;
}

function records(specs: Spec[]): ModelRecord[] {
  const shas = specs.map((_spec, index) => `${(index * 7919 + 4096).toString(16).padStart(10, 'a')}${'0'.repeat(54)}`.toUpperCase());
  const ids = assignRecordIds(specs.map((spec, index) => ({ stem: spec.stem, sha256: spec.stem === 'dup' ? shas[0]! : shas[index]! })));
  return specs.map((spec, index) => {
    const sha = spec.stem === 'dup' ? shas[0]! : shas[index]!;
    const folder = spec.folder ?? '';
    const identified = (spec.status ?? 'identified') === 'identified';
    return {
      id: ids[index]!,
      file: {
        path: `/lib/${spec.input ?? 'loras'}/${folder ? `${folder}/` : ''}${spec.stem}.safetensors`,
        inputPathId: spec.input ?? 'loras',
        inputType: 'LORA',
        relativePath: `${folder ? `${folder}/` : ''}${spec.stem}.safetensors`,
        folder,
        name: `${spec.stem}.safetensors`,
        stem: spec.stem,
        ext: '.safetensors',
        size: spec.size ?? 1024 * (index + 1),
        mtimeMs: spec.mtime ?? DAY_ZERO + index * 86_400_000,
      },
      hashes: { SHA256: sha, AutoV2: sha.slice(0, 10) },
      civitai: { status: spec.status ?? 'identified' },
      ...(identified
        ? {
            version: {
              id: spec.versionId ?? 1000 + index,
              modelId: spec.modelId ?? 500 + index,
              name: `v${index}`,
              createdAt: spec.created ?? `2025-01-${String(index + 1).padStart(2, '0')}T00:00:00Z`,
              updatedAt: spec.created ?? `2025-02-${String(index + 1).padStart(2, '0')}T00:00:00Z`,
              baseModel: spec.base ?? 'SDXL 1.0',
              trainedWords: spec.triggers ?? [],
              nsfwLevel: spec.nsfwLevel ?? 1,
              stats: { downloadCount: spec.downloads ?? index * 10, thumbsUpCount: index },
            },
            model: {
              id: spec.modelId ?? 500 + index,
              name: spec.name ?? spec.stem,
              type: spec.type ?? 'LORA',
              creator: spec.creator ? { username: spec.creator } : null,
              tags: spec.tags ?? [],
              modelVersions: spec.versions ?? [{ id: spec.versionId ?? 1000 + index, name: `v${index}`, createdAt: spec.created ?? '2025-01-01T00:00:00Z' }],
            },
          }
        : {}),
      images: [
        {
          path: `/lib/${spec.stem}.preview1.jpeg`,
          url: `https://image.civitai.com/x/${index}/a.jpeg`,
          type: 'image' as const,
          nsfwLevel: spec.imageLevel ?? 1,
          blurhash: 'LEHV6nWB2yk8pyo0adR*.7kCMdnj',
        },
      ],
      problems: [],
    } as ModelRecord;
  });
}

const LIBRARY: Spec[] = [
  { stem: 'Alpha_v1', name: 'Alpha', folder: 'SDXL/styles', base: 'Pony', creator: 'ann', tags: ['style', 'anime'], triggers: ['alphatrig'], modelId: 1, versionId: 11, downloads: 50,
    versions: [{ id: 12, name: 'v2', createdAt: '2025-06-01' }, { id: 11, name: 'v1', createdAt: '2025-01-01' }] },
  { stem: 'Alpha_v2', name: 'Alpha', folder: 'SDXL', base: 'Pony', creator: 'ann', tags: ['style'], modelId: 1, versionId: 12, downloads: 70, created: '2025-06-01T00:00:00Z',
    versions: [{ id: 12, name: 'v2', createdAt: '2025-06-01' }, { id: 11, name: 'v1', createdAt: '2025-01-01' }] },
  { stem: 'beta-char', name: 'Béta Character', folder: 'characters', base: 'Illustrious', creator: 'bob', tags: ['character', 'anime'], downloads: 5, nsfwLevel: 12, imageLevel: 8 },
  { stem: 'gamma', name: 'Gamma', input: 'checkpoints', type: 'Checkpoint', base: 'SD 1.5', tags: ['realistic'], downloads: 900,
    modelId: 3, versionId: 31, versions: [{ id: 33, name: 'v3', createdAt: '2026-01-01' }, { id: 31, name: 'v1', createdAt: '2024-01-01' }] },
  { stem: 'unknown lora', status: 'not-found' },
  { stem: 'dup', name: 'Dup', folder: 'a' },
  { stem: 'dup', name: 'Dup', folder: 'b' },
];

describe('the gallery index, read back by the page engine', () => {
  const recs = records(LIBRARY);
  const index = buildGalleryIndex(recs, { settings });
  const model = core.decodeIndex(JSON.parse(JSON.stringify(index.core)));
  core.attachExtra(model, JSON.parse(JSON.stringify(index.extra)));
  const engine = core.createEngine(model);
  const byName = recs
    .map((record) => ({ record, view: modelView(record, settings) }))
    .sort((a, b) => a.view.name.localeCompare(b.view.name, 'en') || a.record.file.relativePath.localeCompare(b.record.file.relativePath));

  it('derives every page id (the second `dup` file included) and keeps name order', () => {
    expect(model.ids).toEqual(byName.map(({ record }) => record.id));
    expect(model.c.name).toEqual(byName.map(({ view }) => view.name));
    expect(Object.values(index.extra.x)).toEqual([recs[6]!.id]);
  });

  it('counts every facet value like a plain loop over the records', () => {
    const result = engine.run(core.defaultState());
    const expectCounts = (key: string, values: (record: ModelRecord) => string[]) => {
      const expected = new Map<string, number>();
      for (const record of recs) for (const value of new Set(values(record))) expected.set(value, (expected.get(value) ?? 0) + 1);
      const labels: string[] = engine.facets.find((facet: { key: string }) => facet.key === key).labels;
      const actual = new Map<string, number>();
      labels.forEach((label, position) => result.counts[key][position] > 0 && actual.set(label, result.counts[key][position]));
      expect(actual, key).toEqual(expected);
    };
    expectCounts('type', (record) => [modelView(record, settings).type]);
    expectCounts('base', (record) => (modelView(record, settings).baseModel ? [modelView(record, settings).baseModel as string] : []));
    expectCounts('creator', (record) => (modelView(record, settings).creator ? [modelView(record, settings).creator as string] : []));
    expectCounts('tag', (record) => modelView(record, settings).tags);
    expectCounts('folder', (record) => {
      const parts = [record.file.inputPathId, ...record.file.folder.split('/').filter(Boolean)];
      return parts.map((_, depth) => parts.slice(0, depth + 1).join('/'));
    });
    expectCounts('status', (record) => [{ identified: 'On CivitAI', 'not-found': 'Not on CivitAI', unknown: 'Lookup failed', 'not-checked': 'Not checked' }[record.civitai.status]]);
    expectCounts('updates', (record) => (hasNewerVersion(record, libraryContext(recs), settings) ? ['Newer version available'] : []));
    expectCounts('rating', (record) => [core.LEVELS[modelView(record, settings).level]]);
    expect(result.list).toHaveLength(recs.length);
  });

  it('counts a facet against the other facets and the search, not against itself', () => {
    const state = core.defaultState();
    state.filters.base = ['Pony'];
    const result = engine.run(state);
    const base = (label: string) => result.counts.base[model.d.base.indexOf(label)];
    expect(base('Pony')).toBe(2);
    expect(base('Illustrious')).toBe(1);
    const tag = (label: string) => result.counts.tag[model.d.tag.indexOf(label)];
    expect(tag('style')).toBe(2);
    expect(tag('character')).toBe(0);
    expect(result.list.map((i: number) => model.c.name[i])).toEqual(['Alpha', 'Alpha']);
    state.q = 'alphatrig';
    expect(engine.run(state).list).toHaveLength(1);
  });

  it('searches name, file name, creator, tags and trigger words, accents folded, all words required', () => {
    const find = (q: string) => {
      const state = core.defaultState();
      state.q = q;
      return engine.run(state).list.map((i: number) => model.stems[i]).sort();
    };
    expect(find('beta')).toEqual(['beta-char']);
    expect(find('BÉTA char')).toEqual(['beta-char']);
    expect(find('alpha_v2')).toEqual(['Alpha_v2']);
    expect(find('bob')).toEqual(['beta-char']);
    expect(find('realistic')).toEqual(['gamma']);
    expect(find('alphatrig')).toEqual(['Alpha_v1']);
    expect(find('anime ann')).toEqual(['Alpha_v1']);
    expect(find('nothing like this')).toEqual([]);
  });

  it('gives the same matches typing forward and deleting back as each query fresh, and sees file names once they arrive', () => {
    const steps = ['a', 'al', 'alp', 'alpha', 'alpha ', 'alpha a', 'alpha an', 'alpha a', 'alpha', 'alp', 'al', 'a', '', 'b', 'be', 'b', ''];
    const listOf = (anEngine: typeof engine, q: string) => {
      const state = core.defaultState();
      state.q = q;
      return [...anEngine.run(state).list];
    };
    for (const q of steps) expect(listOf(engine, q), q).toEqual(listOf(core.createEngine(model), q));

    // Before the second part of the index, file names are not searched; a query seen then is
    // tested again once they are.
    const early = core.decodeIndex(JSON.parse(JSON.stringify(index.core)));
    const earlyEngine = core.createEngine(early);
    expect(listOf(earlyEngine, 'alpha_v2')).toEqual([]);
    expect(listOf(earlyEngine, 'alpha')).toHaveLength(2);
    core.attachExtra(early, JSON.parse(JSON.stringify(index.extra)));
    expect(listOf(earlyEngine, 'alpha_v2')).toHaveLength(1);
  });

  it('sorts each key both ways, unknown values last, ties by name', () => {
    for (const sort of core.SORTS) {
      for (const dir of ['asc', 'desc']) {
        const state = { ...core.defaultState(), sort: sort.key, dir };
        const list: number[] = engine.run(state).list;
        const value = (i: number) =>
          sort.key === 'name' ? i : model.num[sort.column][i];
        const expected = [...list].sort((a, b) => {
          const va = value(a);
          const vb = value(b);
          if (va === null && vb === null) return a - b;
          if (va === null) return 1;
          if (vb === null) return -1;
          return (dir === 'asc' ? va - vb : vb - va) || (sort.key === 'name' ? 0 : a - b);
        });
        expect(list, `${sort.key} ${dir}`).toEqual(expected);
      }
    }
  });

  it('groups the local files of one model into one card showing the newest', () => {
    const state = { ...core.defaultState(), group: true };
    const result = engine.run(state);
    expect(result.total).toBe(recs.length - 1);
    const alpha = result.list.find((i: number) => model.c.name[i] === 'Alpha');
    expect(model.stems[alpha]).toBe('Alpha_v2');
    expect(result.members.get(alpha).map((i: number) => model.stems[i]).sort()).toEqual(['Alpha_v1', 'Alpha_v2']);
    expect(result.counts.creator[model.d.creator.indexOf('ann')]).toBe(1);
  });

  it('marks a newer version only when no local file has it', () => {
    const context = libraryContext(recs);
    expect(hasNewerVersion(recs[0]!, context, settings)).toBe(false);
    expect(hasNewerVersion(recs[3]!, context, settings)).toBe(true);
    const rows = versionRows(recs[0]!, context, settings);
    expect(rows.map((row) => [row.name, row.local])).toEqual([['v2', [recs[1]!.id]], ['v1', [recs[0]!.id]]]);
    expect(rows[0]!.civitaiUrl).toBe('https://civitai.com/models/1?modelVersionId=12');
    const nsfw = versionRows(recs[2]!, context, settings);
    expect(nsfw[0]!.civitaiUrl).toMatch(/^https:\/\/civitai\.red\//);
  });

  it('leaves NSFW models out of an SFW-only site', () => {
    expect(recs.filter((record) => inSite(record, { ...settings, sfwOnly: true })).map((record) => record.file.stem)).not.toContain('beta-char');
    expect(recs.filter((record) => inSite(record, settings))).toHaveLength(recs.length);
  });
});

describe('personal data, duplicates and usage in the page engine', () => {
  const specs: Spec[] = [
    // `records` gives every `dup` the bytes (SHA-256) of the first file.
    { stem: 'dup', name: 'Dup', folder: 'a' },
    { stem: 'dup', name: 'Dup', folder: 'b' },
    { stem: 'one', name: 'One', versionId: 71, modelId: 7 },
    { stem: 'two', name: 'Two', versionId: 71, modelId: 7 },
    { stem: 'emb', name: 'Emb', type: 'TextualInversion' },
    { stem: 'ckpt', name: 'Ckpt', type: 'Checkpoint' },
  ];
  const recs = records(specs);
  const index = buildGalleryIndex(recs, { settings: { ...settings, showLocalPaths: true } });
  const model = core.decodeIndex(JSON.parse(JSON.stringify(index.core)));
  core.attachExtra(model, JSON.parse(JSON.stringify(index.extra)));
  const engine = core.createEngine(model);
  const at = (stem: string, folder = '') =>
    model.ids.findIndex((id: string) => id === recs.find((record) => record.file.stem === stem && record.file.folder === folder)!.id);

  it('flags byte-identical files and files of one CivitAI version, and counts them in the Duplicates facet', () => {
    expect(model.sameFile(at('dup', 'a'))).toBe(true);
    expect(model.sameFile(at('dup', 'b'))).toBe(true);
    expect(model.sameFile(at('one'))).toBe(false);
    expect(model.sameVersion(at('one'))).toBe(true);
    expect(model.sameVersion(at('two'))).toBe(true);
    expect(model.sameVersion(at('emb'))).toBe(false);
    const counts = engine.run(core.defaultState()).counts.dupes;
    expect([...counts]).toEqual([2, 2]);
    const context = libraryContext(recs);
    expect(duplicatesOf(recs[1]!, context)).toEqual({ sameFile: [recs[0]!.id], sameVersion: [] });
    expect(duplicatesOf(recs[2]!, context)).toEqual({ sameFile: [], sameVersion: [recs[3]!.id] });
    expect(isDuplicate(recs[4]!, context)).toBe(false);
  });

  it('gives each card its usage line (with a weight), and its file path when paths are shown', () => {
    expect(model.usage(at('one'))).toBe('<lora:one:1>');
    expect(model.usage(at('one'), 0.65)).toBe('<lora:one:0.65>');
    expect(model.usage(at('emb'))).toBe('emb');
    expect(model.usage(at('ckpt'))).toBe('');
    expect(model.path(at('dup', 'b'))).toBe('/lib/loras/b/dup.safetensors');
    expect(usageLine('LoCon', 'x', 0.5)).toBe('<lora:x:0.5>');
    expect(usageLine('TextualInversion', 'neg')).toBe('neg');
    expect(usageLine('Checkpoint', 'x')).toBeUndefined();
    // Without show_local_paths the index has no paths at all.
    const bare = buildGalleryIndex(recs, { settings });
    expect(bare.extra.pd).toBeUndefined();
  });

  it('filters by favourites, notes and your tags; leaves hidden models out unless asked', () => {
    const fav = new Uint8Array(model.n);
    const hidden = new Uint8Array(model.n);
    const noted = new Uint8Array(model.n);
    const tags: string[][] = new Array(model.n);
    fav[at('one')] = 1;
    fav[at('two')] = 1;
    noted[at('two')] = 1;
    hidden[at('ckpt')] = 1;
    tags[at('emb')] = ['negative', 'mine'];
    tags[at('one')] = ['mine'];
    engine.setPersonal({ fav, hidden, noted, tags });
    const run = (change: (state: ReturnType<typeof core.defaultState>) => void) => {
      const state = core.defaultState();
      change(state);
      return engine.run(state);
    };
    const all = run(() => undefined);
    expect(all.list).toHaveLength(model.n - 1);
    expect(all.hidden).toBe(1);
    expect(run((state) => (state.hidden = true)).list).toHaveLength(model.n);
    expect(run((state) => (state.filters.mine = ['Favourites'])).list.map((i: number) => model.stems[i]).sort()).toEqual(['one', 'two']);
    expect(run((state) => (state.filters.mine = ['With notes'])).list.map((i: number) => model.stems[i])).toEqual(['two']);
    const mytag = engine.facets.find((facet: { key: string }) => facet.key === 'mytag');
    expect(mytag.labels).toEqual(expect.arrayContaining(['negative', 'mine']));
    expect(run((state) => (state.filters.mytag = ['mine'])).list.map((i: number) => model.stems[i]).sort()).toEqual(['emb', 'one']);
    expect(all.counts.mine[0]).toBe(2);
    // New personal data (a model unhidden, a favourite removed) changes the same state's result.
    engine.setPersonal({ fav: new Uint8Array(model.n), hidden: new Uint8Array(model.n), noted, tags });
    expect(run(() => undefined).list).toHaveLength(model.n);
    expect(run((state) => (state.filters.mine = ['Favourites'])).list).toEqual([]);
    engine.setPersonal({ fav, hidden, noted, tags });
    // `hidden=1` is part of the URL state.
    expect(core.parseHash('#hidden=1').hidden).toBe(true);
    expect(core.formatHash({ ...core.defaultState(), hidden: true })).toBe('hidden=1');
  });

  it('files names under a letter for the A–Z bar', () => {
    expect(['Alpha', 'béta', '  zed', '1girl', '日本', ''].map(core.initialOf)).toEqual(['A', 'B', 'Z', '#', '#', '#']);
  });
});

describe('descriptions', () => {
  it('demote headings below the page’s own and drop empty ones', async () => {
    const { sanitizeDescription } = await import('../../src/integration/site/sanitize.ts');
    expect(sanitizeDescription('<h1>A</h1><h2 class="x">B</h2><h3>C</h3><h6>D</h6><h2> </h2><h4></h4><h3><img src="https://x/y.png" alt="pic"></h3>')).toBe(
      '<h3>A</h3><h4>B</h4><h5>C</h5><h6>D</h6><h5><img src="https://x/y.png" alt="pic" loading="lazy" referrerpolicy="no-referrer" /></h5>',
    );
  });
});

describe('URL state', () => {
  it('round-trips every part of the state and leaves defaults out', () => {
    const state = core.defaultState();
    expect(core.formatHash(state)).toBe('');
    state.q = 'red hair, 1girl & more';
    state.filters.type = ['LORA', 'LoCon'];
    state.filters.folder = ['loras/SDXL styles'];
    state.filters.tag = ['a,b', 'c=d'];
    state.sort = 'downloads';
    state.dir = 'asc';
    state.view = 'list';
    state.group = true;
    const hash = core.formatHash(state);
    expect(core.parseHash(`#${hash}`)).toEqual(state);
    expect(hash).toContain('type=LORA,LoCon');
  });

  it('reads the seed gallery’s hash keys and values', () => {
    const state = core.parseHash('#type=LORA&base=Illustrious&folder=Character&q=girl&sort=modified&dir=asc&view=focused');
    expect(state).toMatchObject({ q: 'girl', sort: 'added', dir: 'asc', view: 'large' });
    expect(state.filters).toMatchObject({ type: ['LORA'], base: ['Illustrious'], folder: ['Character'] });
  });

  it('ignores what it does not know', () => {
    expect(core.parseHash('#sort=nonsense&view=3d&zzz=1&dir=sideways')).toEqual(core.defaultState());
  });

  it('uses each sort’s natural direction unless told', () => {
    expect(core.parseHash('#sort=downloads').dir).toBe('desc');
    expect(core.parseHash('#sort=name').dir).toBe('asc');
  });
});

describe('page helpers', () => {
  it('slugifies like the record ids do', () => {
    expect(core.slugify('Café ñ 日本')).toBe('cafe-n');
    expect(core.slugify('Tom & Jerry\'s "cartoon" style')).toBe('tom-jerry-s-cartoon-style');
    expect(core.slugify('日本')).toBe('model');
  });

  it('reads the average colour of a BlurHash and rejects junk', () => {
    expect(blurhashColour('LEHV6nWB2yk8pyo0adR*.7kCMdnj')).toMatch(/^#[0-9a-f]{6}$/);
    expect(blurhashColour('"><script>')).toBeUndefined();
    expect(blurhashColour(undefined)).toBeUndefined();
  });

  it('maps level bitmasks to their highest level', () => {
    expect([0, 1, 2, 3, 4, 5, 8, 12, 16, 31, 32].map(levelIndex)).toEqual([0, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5]);
  });

  it('turns image meta into parameters and an A1111 text', () => {
    const params = generationParams({ prompt: 'a cat', negativePrompt: 'blurry', sampler: 'Euler a', steps: 30, cfgScale: 7, seed: 42, Model: 'x', junk: { a: 1 } });
    expect(params?.settings.map((row) => row.label)).toEqual(['Sampler', 'Steps', 'CFG scale', 'Seed', 'Model']);
    expect(params?.text).toBe('a cat\nNegative prompt: blurry\nSampler: Euler a, Steps: 30, CFG scale: 7, Seed: 42, Model: x');
    expect(generationParams({ hashes: {} })).toBeUndefined();
    expect(generationParams(null)).toBeUndefined();
  });

  it('summarises kohya training metadata with the top tags over all folders', () => {
    const summary = summarizeTraining({
      ss_output_name: 'my_lora',
      ss_network_module: 'networks.lora',
      ss_network_dim: '16',
      ss_training_started_at: '1719940000.5',
      ss_tag_frequency: JSON.stringify({ '10_a': { red: 3, blue: 9 }, '5_b': { red: 8, ' ': 4 } }),
    });
    expect(summary).toMatchObject({ title: 'my_lora', networkModule: 'networks.lora', dim: '16', tagCount: 2 });
    expect(summary?.tags).toEqual([{ tag: 'red', count: 11 }, { tag: 'blue', count: 9 }]);
    expect(summary?.trainedAt).toMatch(/^2024-07-02/);
    expect(summarizeTraining({ ss_tag_frequency: 'not json', ss_network_dim: '8' })).toMatchObject({ dim: '8', tags: [], tagCount: 0 });
    expect(summarizeTraining({ ss_tag_frequency: 'not json' })).toBeUndefined();
    expect(summarizeTraining({})).toBeUndefined();
    expect(trainingOf({ training: summary })).toEqual(summary);
    expect(trainingOf({ training: { tags: 'nope' } })).toBeUndefined();
  });

  it('puts a seed gallery path’s site beside it and keeps the bookmark’s state', () => {
    expect(publishTargets('/home/u/models/gallery.html')).toEqual({
      siteDir: '/home/u/models/gallery-site',
      entry: '/home/u/models/gallery.html',
      redirect: '/home/u/models/gallery.html',
    });
    expect(publishTargets('/srv/www/models')).toEqual({ siteDir: '/srv/www/models', entry: '/srv/www/models/index.html' });
    const page = redirectPage('my gallery-site/index.html');
    expect(page).toContain('location.replace("my%20gallery-site/index.html" + location.hash)');
    expect(page).toContain('url=my%20gallery-site/index.html');
  });
});

describe('integration options', () => {
  it('defaults: the gallery at /, pages on, relative URLs on, no V8 flag for the host', async () => {
    const { parseOptions, v8FlagsFor } = await import('../../src/integration/options.ts');
    const options = parseOptions(undefined);
    expect(options).toEqual({ base: '/', pages: true, relativeUrls: true, lowMemoryBuild: false });
    expect(v8FlagsFor('build', options)).toEqual([]);
    expect(v8FlagsFor('build', { lowMemoryBuild: true })).toEqual(['--optimize-for-size']);
    expect(v8FlagsFor('dev', { lowMemoryBuild: true })).toEqual([]);
    expect(v8FlagsFor('sync', { lowMemoryBuild: true })).toEqual([]);
    // 'auto' (the CLI's bundled site): only once the scan has counted a large library.
    const { LOW_MEMORY_FROM } = await import('../../src/integration/options.ts');
    expect(parseOptions({ lowMemoryBuild: 'auto' }).lowMemoryBuild).toBe('auto');
    expect(v8FlagsFor('build', { lowMemoryBuild: 'auto' })).toEqual([]);
    expect(v8FlagsFor('build', { lowMemoryBuild: 'auto' }, LOW_MEMORY_FROM - 1)).toEqual([]);
    expect(v8FlagsFor('build', { lowMemoryBuild: 'auto' }, LOW_MEMORY_FROM)).toEqual(['--optimize-for-size']);
    expect(v8FlagsFor('dev', { lowMemoryBuild: 'auto' }, LOW_MEMORY_FROM)).toEqual([]);
    expect(parseOptions({ base: '/models' }).base).toBe('/models/');
    expect(parseOptions({ config: 'my.yaml', job: 'gallery', pages: false })).toMatchObject({ config: 'my.yaml', job: 'gallery', pages: false });
  });

  it('a wrong option is an AstroError naming it, with the list of options as a hint', async () => {
    const { parseOptions } = await import('../../src/integration/options.ts');
    const { AstroError } = await import('astro/errors');
    const attempt = (input: unknown) => {
      try {
        parseOptions(input);
      } catch (error) {
        return error as InstanceType<typeof AstroError>;
      }
      throw new Error('no error');
    };
    const unknown = attempt({ bsae: '/x/' });
    expect(unknown).toBeInstanceOf(AstroError);
    expect(unknown.message).toContain('unknown option `bsae`');
    expect(unknown.hint).toContain('`base`');
    expect(attempt({ base: 'models' }).message).toContain('`base`: must be a path on the site that starts with "/"');
    expect(attempt({ base: '/../x' }).message).toContain('`base`');
    expect(attempt({ pages: 'no' }).message).toContain('`pages`');
  });
});

describe('relative URLs for the gallery pages only', () => {
  it('rewrites root-absolute URLs by depth, drops Astro\'s base, and leaves other URLs alone', async () => {
    const { relativizeHtml, relativizeCss } = await import('../../src/integration/site/relative-urls.ts');
    const html = `<link rel="stylesheet" href="/_astro/a.css"><a href='/list/index.html'>x</a><img src="https://cdn.example/x.png" srcset="/t/1.webp 1x, /t/2.webp 2x"><a href="//other/x">y</a><a href="models/x/index.html">z</a>`;
    expect(relativizeHtml(html, 2)).toBe(
      `<link rel="stylesheet" href="../../_astro/a.css"><a href='../../list/index.html'>x</a><img src="https://cdn.example/x.png" srcset="../../t/1.webp 1x, ../../t/2.webp 2x"><a href="//other/x">y</a><a href="models/x/index.html">z</a>`,
    );
    // With Astro's `base: '/docs'`, URLs carry /docs/ but the files sit at the output's root.
    expect(relativizeHtml('<script src="/docs/_astro/g.js"></script><a href="/docs">home</a>', 1, '/docs/')).toBe(
      '<script src="../_astro/g.js"></script><a href="../">home</a>',
    );
    expect(relativizeCss('a{background:url(/docs/_astro/i.png)}', 1, '/docs/')).toBe('a{background:url(../_astro/i.png)}');
  });

  it('touches the pages it is given and their stylesheets, nothing else', async () => {
    const { mkdtemp, mkdir, readFile, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { relativizePages } = await import('../../src/integration/site/relative-urls.ts');
    const out = await mkdtemp(path.join(tmpdir(), 'cs-rel-'));
    await mkdir(path.join(out, 'models', 'a'), { recursive: true });
    await mkdir(path.join(out, 'about'), { recursive: true });
    await mkdir(path.join(out, '_astro'), { recursive: true });
    const page = '<link rel="stylesheet" href="/_astro/s.css"><a href="/">home</a>';
    await writeFile(path.join(out, 'models', 'a', 'index.html'), page);
    await writeFile(path.join(out, 'about', 'index.html'), page);
    await writeFile(path.join(out, '_astro', 's.css'), 'b{background:url(/_astro/i.png)}');
    await writeFile(path.join(out, '_astro', 'host.css'), 'b{background:url(/_astro/i.png)}');
    const { files } = await relativizePages(out, [path.join(out, 'models', 'a', 'index.html')]);
    expect(files).toBe(2);
    expect(await readFile(path.join(out, 'models', 'a', 'index.html'), 'utf8')).toBe('<link rel="stylesheet" href="../../_astro/s.css"><a href="../../">home</a>');
    expect(await readFile(path.join(out, 'about', 'index.html'), 'utf8')).toBe(page);
    expect(await readFile(path.join(out, '_astro', 's.css'), 'utf8')).toBe('b{background:url(../_astro/i.png)}');
    expect(await readFile(path.join(out, '_astro', 'host.css'), 'utf8')).toBe('b{background:url(/_astro/i.png)}');
  });
});
