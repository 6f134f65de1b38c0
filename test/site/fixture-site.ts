/**
 * Builds small sites for the gallery tests from a library we control: model files whose names
 * and folders carry script payloads, and CivitAI answers (a fixtures folder for the fake server)
 * whose names, descriptions, tags, creator, trigger words and image prompts do too.
 *
 * Run as a script (Astro builds in a child process, not inside the test runner):
 *   node test/site/fixture-site.ts --dir <folder> [--sfw-only] [--no-pages] [--no-gallery] [--gallery-path <path>] [--duplicates]
 * `--duplicates` adds a byte-identical copy of the first file and another file of its CivitAI
 * version (the gallery's duplicate badges and facet).
 * It writes `<dir>/site.json` describing what it built.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';

/** Every payload sets `window.__xss` (or opens a dialog) if it ever runs. */
export const PAYLOADS = {
  script: '<script>window.__xss="script"</script>',
  img: '"><img src=x onerror="window.__xss=\'img\'">',
  svg: '<svg onload=window.__xss="svg">',
  breakout: '</script><script>window.__xss="breakout"</script>',
  attribute: "' onmouseover='window.__xss=\"attr\"' x='",
  jsUrl: 'javascript:window.__xss="url"',
  comment: '<!--<script>window.__xss="comment"</script>',
  alert: '<img src=x onerror=alert(1)>',
} as const;

const ALL = Object.values(PAYLOADS).join(' ');

export interface FixtureSite {
  dir: string;
  outDir: string;
  configPath: string;
  /** Page ids of the poisoned model files. */
  files: { relativePath: string; onCivitai: boolean }[];
}

function safetensors(metadata: Record<string, string>, seed: string): Buffer {
  const header = { __metadata__: metadata, weight: { dtype: 'F16', shape: [16], data_offsets: [0, 32] } };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, createHash('sha256').update(seed).digest()]);
}

const MODEL_ID = 880001;
const VERSION_ID = 990001;
const OLD_VERSION_ID = 990000;

function poisonedModel(): Record<string, unknown> {
  const image = (n: number, level: number) => ({
    url: `https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/00000000-0000-4000-a000-00000000000${n}/width=832/${7000 + n}.jpeg`,
    nsfwLevel: level,
    width: 832,
    height: 1216,
    hash: `"><script>window.__xss="hash"</script>`,
    type: 'image',
    hasMeta: true,
    meta: {
      prompt: `masterpiece, ${PAYLOADS.script}, ${PAYLOADS.img}`,
      negativePrompt: `${PAYLOADS.svg} ${PAYLOADS.breakout}`,
      sampler: PAYLOADS.attribute,
      steps: 30,
      cfgScale: 7,
      seed: 12345,
      Model: PAYLOADS.comment,
    },
  });
  const version = (id: number, name: string, created: string, images: unknown[]) => ({
    id,
    name,
    baseModel: `Illustrious ${PAYLOADS.img}`,
    baseModelType: 'Standard',
    nsfwLevel: 1,
    status: 'Published',
    createdAt: created,
    publishedAt: created,
    updatedAt: created,
    trainedWords: [PAYLOADS.script, PAYLOADS.img, 'plain trigger', PAYLOADS.attribute],
    stats: { downloadCount: 10, thumbsUpCount: 2, ratingCount: 0, rating: 0 },
    description: `<p>Version notes ${PAYLOADS.breakout}</p><a href="${PAYLOADS.jsUrl}">click</a>`,
    files: [{ id: id + 1, name: `${PAYLOADS.img}.safetensors`, sizeKB: 1, type: 'Model', primary: true, metadata: { format: 'SafeTensor' }, hashes: {} }],
    images,
  });
  return {
    id: MODEL_ID,
    name: `Poisoned ${PAYLOADS.script} model ${PAYLOADS.img}`,
    description: [
      `<p>Hello ${PAYLOADS.script}</p>`,
      `<p><img src="x" onerror="window.__xss='desc-img'"></p>`,
      `<p><a href="${PAYLOADS.jsUrl}">js link</a> <a href="https://example.com/" onclick="window.__xss='onclick'">ok link</a></p>`,
      `<iframe src="javascript:window.parent.__xss='iframe'"></iframe>`,
      `<svg><script>window.__xss='svg-script'</script></svg>`,
      `<form action="javascript:window.__xss='form'"><button>go</button></form>`,
      `<p style="background:url(javascript:window.__xss='style')">styled</p>`,
      // Headings of every level (demoted below the page's own), an empty one, and enough text
      // to be folded behind "Show more".
      `<h1>Usage guide</h1><h2>Settings</h2><h2> </h2><h3></h3>`,
      ...Array.from({ length: 40 }, (_, n) => `<p>Paragraph ${n + 1} of a long description: weights, samplers, prompts that work and what to pair this model with.</p>`),
      `<math><mtext><table><mglyph><style><img src=x onerror="window.__xss='mxss'">`,
    ].join(''),
    type: `LORA ${PAYLOADS.svg}`,
    nsfw: false,
    poi: false,
    creator: { username: PAYLOADS.img, image: null },
    tags: [PAYLOADS.script, PAYLOADS.svg, 'plain tag', PAYLOADS.attribute],
    stats: { downloadCount: 10, thumbsUpCount: 2 },
    modelVersions: [
      version(VERSION_ID, `v2 ${PAYLOADS.svg}`, '2025-06-01T00:00:00.000Z', [image(1, 1), image(2, 8)]),
      version(OLD_VERSION_ID, `v1 ${PAYLOADS.comment}`, '2025-01-01T00:00:00.000Z', [image(3, 1)]),
    ],
  };
}

export async function buildFixtureSite(options: {
  dir: string;
  sfwOnly?: boolean;
  modelPages?: boolean;
  gallery?: boolean;
  galleryPath?: string;
  duplicates?: boolean;
}): Promise<FixtureSite> {
  const { startFakeCivitai } = await import('../../src/dev/fake-civitai/index.ts');
  const { buildSite } = await import('../../src/integration/cli/build-site.ts');
  const dir = path.resolve(options.dir);
  await rm(dir, { recursive: true, force: true });
  const library = path.join(dir, 'library');
  const fixtures = path.join(dir, 'fixtures');
  await mkdir(fixtures, { recursive: true });
  await writeFile(path.join(fixtures, `models_${MODEL_ID}_poisoned.json`), JSON.stringify(poisonedModel()));

  // Slashes cannot be in file names; everything else of the payloads can.
  const noSlash = (text: string) => text.replaceAll('/', '');
  const files: { relativePath: string; versionId?: number; copyOf?: number }[] = [
    { relativePath: `Lora/${noSlash(PAYLOADS.svg)}/${noSlash(PAYLOADS.img)}.safetensors`, versionId: VERSION_ID },
    { relativePath: `Lora/${noSlash(PAYLOADS.attribute)} old.safetensors`, versionId: OLD_VERSION_ID },
    { relativePath: `Lora/${noSlash(PAYLOADS.script)}.safetensors` },
    { relativePath: `Lora/plain ${noSlash(PAYLOADS.alert)}.safetensors` },
    ...(options.duplicates
      ? [
          { relativePath: 'Lora/copies/identical copy.safetensors', versionId: VERSION_ID, copyOf: 0 },
          { relativePath: 'Lora/copies/same version fp32.safetensors', versionId: VERSION_ID },
        ]
      : []),
  ];
  const bindings = [];
  const written: Buffer[] = [];
  for (const [index, file] of files.entries()) {
    const target = path.join(library, ...file.relativePath.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    const bytes = file.copyOf !== undefined ? (written[file.copyOf] as Buffer) : safetensors(
      {
        'modelspec.title': `${PAYLOADS.script} title`,
        'modelspec.author': PAYLOADS.img,
        ss_output_name: PAYLOADS.svg,
        ss_tag_frequency: JSON.stringify({ [`5_${PAYLOADS.img}`]: { [PAYLOADS.script]: 9, [PAYLOADS.attribute]: 4, plain: 2 } }),
      },
      `poison-${index}`,
    );
    written.push(bytes);
    await writeFile(target, bytes);
    if (file.versionId) {
      bindings.push({ sha256: createHash('sha256').update(bytes).digest('hex').toUpperCase(), size: bytes.length, versionId: file.versionId });
    }
  }
  const fake = await startFakeCivitai({ fixturesDir: fixtures, bindings, versionImageMaxLevel: 31 });
  const configPath = path.join(dir, 'civitscraper.yaml');
  const outDir = path.join(dir, 'dist');
  try {
    await writeFile(
      configPath,
      stringify({
        api: { base_url: fake.apiBaseUrl, timeout: 10, max_retries: 1, batch: { retry_delay: 50 } },
        input_paths: { loras: { path: path.join(library, 'Lora'), type: `LORA ${PAYLOADS.img}`, patterns: ['*.safetensors'], recursive: true } },
        default_job: 'site',
        jobs: {
          site: {
            type: 'scan-paths',
            output: {
              metadata: {
                html: {
                  gallery_title: `Gallery ${PAYLOADS.script} ${PAYLOADS.img}`,
                  sfw_only: options.sfwOnly ?? false,
                  enabled: options.modelPages ?? true,
                  generate_gallery: options.gallery ?? true,
                  ...(options.galleryPath ? { gallery_path: options.galleryPath } : {}),
                },
              },
              images: { max_count: 3, width: 450 },
            },
          },
        },
        scanner: { cache_dir: path.join(dir, '.cache') },
      }),
    );
    await buildSite({ configPath, outDir, cacheDir: path.join(dir, 'astro-cache'), logLevel: 'warn' });
  } finally {
    await fake.close();
  }
  const site: FixtureSite = {
    dir,
    outDir,
    configPath,
    files: files.map((file) => ({ relativePath: file.relativePath, onCivitai: Boolean(file.versionId) })),
  };
  await writeFile(path.join(dir, 'site.json'), JSON.stringify(site, null, 2));
  return site;
}

export { ALL as ALL_PAYLOADS };

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      'sfw-only': { type: 'boolean', default: false },
      'no-pages': { type: 'boolean', default: false },
      'no-gallery': { type: 'boolean', default: false },
      'gallery-path': { type: 'string' },
      duplicates: { type: 'boolean', default: false },
    },
  });
  if (!values.dir) throw new Error('--dir is required');
  await buildFixtureSite({
    dir: values.dir,
    sfwOnly: values['sfw-only'],
    modelPages: !values['no-pages'],
    gallery: !values['no-gallery'],
    ...(values['gallery-path'] ? { galleryPath: values['gallery-path'] } : {}),
    duplicates: values.duplicates,
  });
}
