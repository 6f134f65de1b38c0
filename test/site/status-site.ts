/**
 * A small site for the status tests (status.test.ts): a library whose files carry what the
 * gallery shows beside CivitAI's data, built in two engine runs so the second one has something
 * to miss.
 *
 * - alpha: an A1111 user-metadata file with notes and a preferred weight (0.6);
 * - beta: a ComfyUI-Lora-Manager `.metadata.json` with notes and `usage_tips` strength 0.75;
 * - gamma (a checkpoint): images whose generation data name alpha (by hash), beta (by version id)
 *   and a LoRA the library does not have;
 * - delta: unknown to CivitAI, linked by hand through `civitscraper.link` in its sidecar;
 * - epsilon: removed from CivitAI since the first run; zeta: answered by CivArchive;
 * - eta: deleted after the first run (missing); theta: moved after the first run (not missing);
 * - a curation file (`site.curation`): alpha a favourite with a tag, beta weight 0.9 and a note,
 *   gamma hidden.
 *
 * Run as a script (Astro builds in a child process, not inside the test runner):
 *   node test/site/status-site.ts --dir <folder>
 * It writes `<dir>/site.json` (page ids by name, paths).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';

export const NAMES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'] as const;
export type Name = (typeof NAMES)[number];

export interface StatusSite {
  dir: string;
  outDir: string;
  configPath: string;
  library: string;
  /** Page id of each file. */
  ids: Record<Name, string>;
  /** AutoV2 (first 10 hex of the SHA-256) of each file. */
  autoV2: Record<Name, string>;
}

const MODEL = (n: number) => 770000 + n;
const VERSION = (n: number) => 870000 + n;
/** A LoRA gamma's images used that the library does not have. */
export const REMOTE_VERSION = 123456;

function safetensors(seed: string): Buffer {
  const header = { __metadata__: { 'modelspec.title': seed }, weight: { dtype: 'F16', shape: [16], data_offsets: [0, 32] } };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, createHash('sha256').update(seed).digest()]);
}

function slugify(value: string): string {
  return value.normalize('NFKD').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'model';
}

function modelBody(n: number, name: string, type: string, images: unknown[] = []): Record<string, unknown> {
  const created = `2025-0${(n % 8) + 1}-01T00:00:00.000Z`;
  return {
    id: MODEL(n),
    name,
    description: `<p>${name}: a model of the status fixture.</p>`,
    type,
    nsfw: false,
    poi: false,
    creator: { username: 'fixture', image: null },
    tags: ['status'],
    stats: { downloadCount: 100 + n, thumbsUpCount: n },
    modelVersions: [
      {
        id: VERSION(n),
        name: `${name} v1`,
        baseModel: 'SDXL 1.0',
        nsfwLevel: 1,
        status: 'Published',
        createdAt: created,
        publishedAt: created,
        updatedAt: created,
        trainedWords: [`${slugify(name)} style`],
        stats: { downloadCount: 100 + n, thumbsUpCount: n, ratingCount: 0, rating: 0 },
        description: null,
        files: [{ id: VERSION(n) + 1, name: `${slugify(name)}.safetensors`, sizeKB: 1, type: 'Model', primary: true, metadata: { format: 'SafeTensor' }, hashes: {} }],
        images,
      },
    ],
  };
}

function image(n: number, meta: Record<string, unknown>) {
  return {
    url: `https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/00000000-0000-4000-b000-00000000000${n}/width=832/${8000 + n}.jpeg`,
    nsfwLevel: 1,
    width: 832,
    height: 1216,
    type: 'image',
    hasMeta: true,
    meta,
  };
}

export async function buildStatusSite(dirOption: string): Promise<StatusSite> {
  const { startFakeCivitai } = await import('../../src/dev/fake-civitai/index.ts');
  const { buildSite } = await import('../../src/integration/cli/build-site.ts');
  const { loadConfig } = await import('../../src/integration/engine/config/index.ts');
  const { syncSite } = await import('../../src/integration/site/sync.ts');
  const { silentLogger } = await import('../../src/integration/engine/util/logger.ts');

  const dir = path.resolve(dirOption);
  await rm(dir, { recursive: true, force: true });
  const library = path.join(dir, 'library');
  const fixtures = path.join(dir, 'fixtures');
  await mkdir(fixtures, { recursive: true });
  const folder = (name: Name) => (name === 'gamma' ? 'Checkpoint' : 'Lora');
  const bytes = Object.fromEntries(NAMES.map((name) => [name, safetensors(`status-${name}`)])) as Record<Name, Buffer>;
  const sha = Object.fromEntries(NAMES.map((name) => [name, createHash('sha256').update(bytes[name]).digest('hex')])) as Record<Name, string>;
  const autoV2 = Object.fromEntries(NAMES.map((name) => [name, sha[name].slice(0, 10)])) as Record<Name, string>;
  const ids = Object.fromEntries(NAMES.map((name) => [name, `${name}-${autoV2[name]}`])) as Record<Name, string>;

  const gammaImages = [
    image(1, {
      prompt: 'a castle at dusk, <lora:alpha:0.8>',
      negativePrompt: 'blurry',
      sampler: 'Euler a',
      steps: 28,
      cfgScale: 6,
      seed: 42,
      Model: 'gamma',
      'Model hash': autoV2.gamma,
      hashes: { model: autoV2.gamma, 'lora:alpha': autoV2.alpha },
      resources: [
        { type: 'lora', name: 'alpha', hash: autoV2.alpha, weight: 0.8 },
        { type: 'model', name: 'gamma', hash: autoV2.gamma },
      ],
      civitaiResources: [
        { type: 'lora', weight: 0.5, modelVersionId: VERSION(2) },
        { type: 'lora', weight: 0.3, modelVersionId: REMOTE_VERSION, modelVersionName: 'Remote LoRA v2' },
      ],
      'TI hashes': 'easynegative: c74b4e810b',
    }),
    image(2, { prompt: 'no resources named here', steps: 20, sampler: 'DPM++ 2M' }),
  ];
  const bodies: [number, string, string, unknown[]][] = [
    [1, 'Alpha Style', 'LORA', []],
    [2, 'Beta Detail', 'LORA', []],
    [3, 'Gamma Checkpoint', 'Checkpoint', gammaImages],
    [4, 'Delta Linked', 'LORA', []],
    [5, 'Epsilon Gone', 'LORA', []],
    [6, 'Zeta Archived', 'LORA', []],
    [7, 'Eta Vanishing', 'LORA', []],
    [8, 'Theta Moved', 'LORA', []],
  ];
  for (const [n, name, type, images] of bodies) {
    await writeFile(path.join(fixtures, `models_${MODEL(n)}_status.json`), JSON.stringify(modelBody(n, name, type, images)));
  }
  const bindings = [];
  for (const [index, name] of NAMES.entries()) {
    const target = path.join(library, folder(name), `${name}.safetensors`);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, bytes[name]);
    // delta is unknown by hash: it is linked by hand.
    if (name !== 'delta') bindings.push({ sha256: sha[name].toUpperCase(), size: bytes[name].length, versionId: VERSION(index + 1) });
  }
  // What users and other tools leave beside the models.
  await writeFile(path.join(library, 'Lora', 'alpha.json'), JSON.stringify({ notes: 'A1111 note: best at 0.6 on a painterly checkpoint.', 'preferred weight': 0.6 }));
  await writeFile(
    path.join(library, 'Lora', 'beta.metadata.json'),
    JSON.stringify({ file_name: 'beta', notes: 'Lora-Manager note for beta.', usage_tips: JSON.stringify({ strength: 0.75, clip_skip: 2 }), favorite: true }),
  );
  await writeFile(path.join(library, 'Lora', 'delta.json'), JSON.stringify({ notes: 'Linked by the fixture.', civitscraper: { link: VERSION(4) } }));

  const fake = await startFakeCivitai({ fixturesDir: fixtures, bindings, versionImageMaxLevel: 31 });
  const configPath = path.join(dir, 'civitscraper.yaml');
  const outDir = path.join(dir, 'dist');
  try {
    await writeFile(
      configPath,
      stringify({
        api: { base_url: fake.apiBaseUrl, timeout: 10, max_retries: 1, batch: { retry_delay: 50 } },
        input_paths: {
          loras: { path: path.join(library, 'Lora'), type: 'LORA', patterns: ['*.safetensors'], recursive: true },
          checkpoints: { path: path.join(library, 'Checkpoint'), type: 'Checkpoint', patterns: ['*.safetensors'], recursive: true },
        },
        default_job: 'site',
        jobs: { site: { type: 'scan-paths', output: { metadata: { html: { gallery_title: 'Status fixture' } }, images: { max_count: 2, width: 450 } } } },
        scanner: { cache_dir: path.join(dir, '.cache') },
        // Relative: resolved against this file's folder.
        site: { curation: 'curation.json' },
      }),
    );
    // The first run: what the site knew before eta went missing.
    const loaded = await loadConfig({ configPath });
    await syncSite({ config: loaded.config, configFile: loaded.file, logger: silentLogger });
    // The Astro build below runs the engine again; this process must not hand it the first run's data.
    (globalThis as Record<symbol, Map<string, unknown> | undefined>)[Symbol.for('civitscraper.siteSync')]?.clear();

    const sidecar = async (name: Name, change: (section: Record<string, unknown>) => void) => {
      const file = path.join(library, 'Lora', `${name}.json`);
      const document = JSON.parse(await readFile(file, 'utf8'));
      change(document.civitscraper);
      await writeFile(file, JSON.stringify(document, null, 2));
    };
    await sidecar('epsilon', (section) => void (section.removedFromCivitai = true));
    await sidecar('zeta', (section) => void (section.source = 'civarchive'));
    await unlink(path.join(library, 'Lora', 'eta.safetensors'));
    await mkdir(path.join(library, 'Lora', 'moved'), { recursive: true });
    await rename(path.join(library, 'Lora', 'theta.safetensors'), path.join(library, 'Lora', 'moved', 'theta.safetensors'));

    await writeFile(
      path.join(dir, 'curation.json'),
      JSON.stringify({
        format: 'civitscraper-personal',
        version: 1,
        exported: '2026-01-01T00:00:00.000Z',
        models: {
          [ids.alpha]: { name: 'Alpha Style', favourite: true, tags: ['from the file'] },
          [ids.beta]: { name: 'Beta Detail', weight: 0.9, note: 'Curated note for beta.' },
          [ids.gamma]: { name: 'Gamma Checkpoint', hidden: true },
          'not-in-this-library-0123456789': { favourite: true },
        },
      }),
    );
    await buildSite({ configPath, outDir, cacheDir: path.join(dir, 'astro-cache'), logLevel: 'warn' });
  } finally {
    await fake.close();
  }
  const site: StatusSite = { dir, outDir, configPath, library, ids, autoV2 };
  await writeFile(path.join(dir, 'site.json'), JSON.stringify(site, null, 2));
  return site;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { dir: { type: 'string' } } });
  if (!values.dir) throw new Error('--dir is required');
  await buildStatusSite(values.dir);
}
