/**
 * `npm run bench`: the gallery at 10,000 models.
 *
 * 1. Generates a synthetic library (tiny safetensors files in type / base model / category
 *    folders, realistic names, creators, tags, trigger words, descriptions, versions, NSFW levels,
 *    10 % not on CivitAI) and the matching CivitAI answers for the fake server.
 * 2. Builds the site twice in a child process (the real engine against the fake CivitAI, then
 *    astro build): cold (nothing cached) and warm (sidecars, thumbnails and Astro's image cache
 *    from the first build). Reports wall time, the child's CPU time (user + system, every thread)
 *    and peak RSS; the ratios to the bare build are given by both (CPU time is steadier on a
 *    busy machine).
 * 3. Serves dist/ over HTTP and loads the gallery in Chromium: bytes of everything the first load
 *    fetches except images (gzip, as a server would send them), time to a usable page, and the
 *    latency of each keystroke in the search box, a facet click and a sort change (script +
 *    style + layout, measured in the page).
 *
 * The fake renders each preview before the cold build (it is in this process and its renderer
 * is not what a build costs: the real CDN renders elsewhere).
 *
 * Usage: node bench/site.ts [--models 10000] [--dir /tmp/x] [--keep] [--skip-warm] [--no-browser] [--trace-memory] [--cpu-prof]
 *        node bench/site.ts --dir /tmp/x --measure-only   (browser part again, on a kept build)
 * The last line, `@@BENCH {…}`, has the figures for `npm run bench`'s table.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { stringify } from 'yaml';
// The fake server and Chromium are the parent's, imported when it needs them: the children run
// this file too, and what they load at start is counted in the build they measure.
import type { CatalogBinding, startFakeCivitai } from '../src/dev/fake-civitai/index.ts';
import { cdnRendition } from '../src/integration/engine/media/cdn.ts';
import { createPrng, seedFrom, type Prng } from '../src/dev/fake-civitai/prng.ts';

const run = promisify(execFile);

/**
 * User + system CPU of this process so far (every thread: sharp's included), ms. On a shared
 * machine wall-clock moves with the load; this moves with the work.
 */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

// ---------------------------------------------------------------- child: the baseline
// A bare Astro 7 site with the same number of pages (one dynamic route, a little text each):
// what any Astro build of that size costs on this machine, measured in the same run.

if (process.argv.includes('--bare-child')) {
  const { values } = parseArgs({
    options: { 'bare-child': { type: 'boolean' }, pages: { type: 'string' }, out: { type: 'string' }, cache: { type: 'string' } },
  });
  const { build } = await import('astro');
  // Under node_modules, like the bundled site: the build's chunks import `astro` by name. One
  // per output folder: two benches at once (helpers on one machine) removed each other's chunks.
  const key = createHash('sha256').update(path.resolve(values.out as string)).digest('hex').slice(0, 12);
  const root = path.join(ROOT, 'node_modules', '.cache', `civitscraper-bench-bare-${key}`);
  await mkdir(path.join(root, 'src', 'pages'), { recursive: true });
  await writeFile(
    path.join(root, 'src', 'pages', '[id].astro'),
    `---\nexport function getStaticPaths() {\n  return Array.from({ length: ${Number(values.pages)} }, (_, i) => ({ params: { id: 'model-' + i }, props: { i } }));\n}\nconst { i } = Astro.props;\n---\n<html lang="en"><head><title>Model {i}</title></head><body><h1>Model {i}</h1><p>A page like a model page, without its data.</p><a href="../model-0/">first</a></body></html>\n`,
  );
  await writeFile(path.join(root, 'src', 'pages', 'index.astro'), '<html lang="en"><head><title>Bare</title></head><body><h1>Bare</h1></body></html>\n');
  const cwd = process.cwd();
  process.chdir(root);
  const started = performance.now();
  await build({ root, configFile: false, outDir: values.out as string, cacheDir: values.cache as string, logLevel: 'warn' });
  const ms = performance.now() - started;
  process.chdir(cwd);
  process.stdout.write(`\n@@BENCH ${JSON.stringify({ ms, cpuMs: cpuMs(), maxRssKiB: process.resourceUsage().maxRSS })}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------- child: one build

if (process.argv.includes('--child')) {
  const { values } = parseArgs({
    options: { child: { type: 'boolean' }, config: { type: 'string' }, out: { type: 'string' }, cache: { type: 'string' } },
  });
  const { buildSite } = await import('../src/integration/cli/build-site.ts');
  const started = performance.now();
  // --trace-memory: where the peak is, next to Astro's own (timestamped) stage lines.
  const trace = process.env.CS_BENCH_TRACE_MEMORY === '1';
  const timer = trace
    ? setInterval(() => {
        const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
        const mib = (bytes: number) => Math.round(bytes / 1048576);
        // CPU so far beside Astro's stage lines: what each phase costs, sharp's threads included.
        process.stderr.write(`@@MEM ${new Date().toISOString().slice(11, 22)} rss=${mib(rss)} heap=${mib(heapUsed)}/${mib(heapTotal)} external=${mib(external)} MiB cpu=${(cpuMs() / 1000).toFixed(1)} s\n`);
      }, 1000)
    : undefined;
  timer?.unref();
  await buildSite({ configPath: values.config as string, outDir: values.out, cacheDir: values.cache, logLevel: trace ? 'info' : 'warn' });
  clearInterval(timer);
  const ms = performance.now() - started;
  process.stdout.write(`\n@@BENCH ${JSON.stringify({ ms, cpuMs: cpuMs(), maxRssKiB: process.resourceUsage().maxRSS })}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------- synthetic library

const WORDS = {
  adjective: 'neon ethereal dark golden crystal silent ancient cyber velvet frozen crimson lunar solar misty wild gentle royal rusty shadow pastel vivid retro soft glossy dreamy gothic floral urban cosmic arcane twilight radiant feral noble hollow sacred electric painted lost burning hidden quiet stormy amber ivory obsidian'.split(' '),
  noun: 'samurai forest knight witch android dragon garden city princess ranger pilot mermaid wolf fox angel demon ninja oracle sailor dancer detective queen mage hunter ghost robot castle temple harbor desert tundra jungle station lighthouse library carnival circus orchard cathedral bazaar'.split(' '),
  style: 'style portrait lighting aesthetic illustration anime realism watercolor ink sketch pixel-art cel-shading oil-painting concept-art photography cinematic chibi lineart vaporwave ukiyo-e art-nouveau'.split(' '),
  character: 'Aiko Mirei Lena Sora Kaito Yuna Rin Asuka Hana Kira Zelda Ciri Tifa Aerith Jinx Vi Makima Power Nami Robin Frieren Fern Marin Anya Yor Violet Rem Ram Emilia Megumin Aqua Darkness'.split(' '),
  syllable: 'ka ri no mi ta so ra lu ne vi xo ze pa qu el an or is ul ym dra kon bel'.split(' '),
};
const BASES: [string, number, string][] = [
  ['Illustrious', 24, 'sdxl'], ['Pony', 18, 'sdxl'], ['SDXL 1.0', 14, 'sdxl'], ['SD 1.5', 14, 'sd1'], ['Flux.1 D', 12, 'flux1'],
  ['NoobAI', 6, 'sdxl'], ['Flux.1 S', 2, 'flux1'], ['SD 3.5 Large', 2, 'sd3'], ['Hunyuan Video', 2, 'hyv1'], ['Wan Video 14B t2v', 3, 'wanvideo'], ['Other', 3, 'other'],
];
const TYPES: [string, number, string][] = [
  ['LORA', 68, 'Lora'], ['LoCon', 7, 'Lora'], ['DoRA', 2, 'Lora'], ['Checkpoint', 12, 'Checkpoint'], ['TextualInversion', 11, 'Embeddings'],
];
const CATEGORIES = ['characters', 'styles', 'concepts', 'clothing', 'poses', 'backgrounds', 'vehicles', 'tools'];
const SAMPLERS = ['Euler a', 'DPM++ 2M Karras', 'DPM++ SDE Karras', 'Euler', 'DDIM', 'UniPC'];

function pick<T>(prng: Prng, list: readonly T[]): T {
  return list[Math.floor(prng.next() * list.length)] as T;
}
function weighted<T extends [string, number, ...unknown[]]>(prng: Prng, list: readonly T[]): T {
  const total = list.reduce((sum, item) => sum + item[1], 0);
  let r = prng.next() * total;
  for (const item of list) {
    r -= item[1];
    if (r <= 0) return item;
  }
  return list[list.length - 1] as T;
}
/** Zipf-like: small indexes are much more likely. */
function zipf(prng: Prng, size: number): number {
  return Math.min(size - 1, Math.floor(Math.pow(prng.next(), 2.2) * size));
}
function title(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
function uuid(prng: Prng): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(prng.next() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
const BASE83 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~';
function blurhash(prng: Prng): string {
  return 'L' + Array.from({ length: 27 }, () => BASE83[Math.floor(prng.next() * 83)]).join('');
}
function sentence(prng: Prng, words: number): string {
  const all = [...WORDS.adjective, ...WORDS.noun, ...WORDS.style, 'the', 'a', 'with', 'for', 'and', 'in', 'of', 'use', 'weight', 'strength', 'works', 'best', 'trained', 'on', 'images'];
  const out = Array.from({ length: words }, () => pick(prng, all));
  return `${title(out.join(' '))}.`;
}

interface SyntheticFile {
  relativePath: string;
  bytes: Buffer;
  mtime: number;
  versionId?: number;
}

/** The library's files and the `/models` bodies (one fixture file) the fake server answers with. */
function synthesize(count: number) {
  const prng = createPrng(seedFrom(`bench-site-${count}`));
  const creators = Array.from({ length: Math.max(50, Math.round(count / 4)) }, (_, i) => {
    const name = Array.from({ length: 2 + Math.floor(prng.next() * 2) }, () => pick(prng, WORDS.syllable)).join('');
    return prng.next() < 0.4 ? `${name}${Math.floor(prng.next() * 999)}` : `${title(name)}${i % 7 === 0 ? 'AI' : ''}`;
  });
  const tagVocabulary = Array.from(
    new Set([
      ...WORDS.style,
      ...WORDS.noun,
      ...WORDS.character.map((word) => word.toLowerCase()),
      ...Array.from({ length: 700 }, () => `${pick(prng, WORDS.adjective)} ${pick(prng, WORDS.noun)}`),
      'character', 'clothing', 'concept', 'poses', 'background', 'anime', 'realistic', 'woman', 'man', 'sci-fi', 'fantasy', 'horror', 'cute',
    ]),
  );
  const models: Record<string, unknown>[] = [];
  const files: SyntheticFile[] = [];
  const usedPaths = new Set<string>();
  let versionId = 5_000_000;
  let modelId = 3_000_000;
  const dayMs = 86_400_000;
  const start = Date.UTC(2023, 0, 1);
  while (files.length < count) {
    modelId += 1 + Math.floor(prng.next() * 40);
    const [type, , folderRoot] = weighted(prng, TYPES);
    const [base] = weighted(prng, BASES);
    const kind = prng.next();
    const name =
      kind < 0.35
        ? `${pick(prng, WORDS.character)} ${prng.next() < 0.5 ? `(${title(pick(prng, WORDS.noun))} ${title(pick(prng, WORDS.adjective))})` : `- ${title(pick(prng, WORDS.noun))}`}`
        : kind < 0.8
          ? `${title(pick(prng, WORDS.adjective))} ${title(pick(prng, WORDS.noun))} ${title(pick(prng, WORDS.style))}`
          : `${title(pick(prng, WORDS.adjective))}${title(pick(prng, WORDS.noun))} ${['XL', 'v2', '[Pony]', 'Illustrious', 'FLUX', 'SD1.5', 'Mix'][Math.floor(prng.next() * 7)]}`;
    const creator = creators[zipf(prng, creators.length)] as string;
    const tagCount = 2 + Math.floor(prng.next() * 7);
    const tags = Array.from(new Set(Array.from({ length: tagCount }, () => tagVocabulary[zipf(prng, tagVocabulary.length)] as string)));
    const nsfwRoll = prng.next();
    const nsfwLevel = nsfwRoll < 0.7 ? 1 : nsfwRoll < 0.82 ? 3 : nsfwRoll < 0.92 ? 7 : 15;
    const versionTotal = 1 + zipf(prng, 6);
    const localCount = Math.min(versionTotal, prng.next() < 0.82 ? 1 : 1 + Math.floor(prng.next() * 3));
    const firstDay = Math.floor(prng.next() * 1300);
    const downloadsBase = Math.floor(Math.exp(prng.next() * 11));
    const triggers = prng.next() < 0.25 ? [] : Array.from({ length: 1 + Math.floor(prng.next() * 3) }, () => (prng.next() < 0.5 ? name.split(' ')[0]!.toLowerCase() : `${pick(prng, WORDS.adjective)} ${pick(prng, WORDS.noun)}`));
    const category = pick(prng, CATEGORIES);
    const versions = Array.from({ length: versionTotal }, (_, v) => {
      versionId += 1 + Math.floor(prng.next() * 5);
      const created = new Date(start + (firstDay + v * (5 + Math.floor(prng.next() * 60))) * dayMs + Math.floor(prng.next() * dayMs));
      const imageLevel = nsfwLevel === 1 ? 1 : [1, 2, 4, 8][Math.floor(prng.next() * 4)] as number;
      const image = {
        url: `https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/${uuid(prng)}/width=832/${10_000_000 + versionId}.jpeg`,
        nsfwLevel: imageLevel,
        width: 832,
        height: 1216,
        hash: blurhash(prng),
        type: 'image',
        hasMeta: true,
        meta: {
          prompt: `${triggers.join(', ')}${triggers.length ? ', ' : ''}${sentence(prng, 18 + Math.floor(prng.next() * 30))}`,
          negativePrompt: sentence(prng, 8 + Math.floor(prng.next() * 12)),
          sampler: pick(prng, SAMPLERS),
          steps: 20 + Math.floor(prng.next() * 20),
          cfgScale: 3 + Math.floor(prng.next() * 8),
          seed: Math.floor(prng.next() * 4_000_000_000),
          Size: '832x1216',
        },
      };
      return {
        id: versionId,
        name: versionTotal === 1 ? 'v1.0' : `v${v + 1}.${Math.floor(prng.next() * 10)}`,
        baseModel: base,
        baseModelType: 'Standard',
        nsfwLevel,
        status: 'Published',
        createdAt: created.toISOString(),
        publishedAt: created.toISOString(),
        updatedAt: new Date(created.getTime() + Math.floor(prng.next() * 30) * dayMs).toISOString(),
        trainedWords: triggers,
        stats: { downloadCount: Math.floor(downloadsBase * (0.3 + prng.next())), ratingCount: 0, rating: 0, thumbsUpCount: Math.floor(downloadsBase * 0.08 * prng.next()) },
        description: prng.next() < 0.5 ? `<p>${sentence(prng, 12)}</p>` : null,
        files: [{ id: versionId + 7, name: 'model.safetensors', sizeKB: 1, type: 'Model', primary: true, metadata: { format: 'SafeTensor', fp: 'fp16', size: 'pruned' }, hashes: {} }],
        images: [image],
        downloadUrl: `https://civitai.com/api/download/models/${versionId}`,
      };
    });
    models.push({
      id: modelId,
      name,
      description: `<p>${sentence(prng, 20 + Math.floor(prng.next() * 60))}</p><p>${sentence(prng, 10 + Math.floor(prng.next() * 40))}</p><ul><li>${sentence(prng, 6)}</li><li>${sentence(prng, 6)}</li></ul>`,
      type,
      nsfw: nsfwLevel >= 7,
      poi: false,
      mode: null,
      creator: { username: creator, image: null },
      tags,
      stats: { downloadCount: downloadsBase, favoriteCount: 0, thumbsUpCount: Math.floor(downloadsBase * 0.08), commentCount: 0, ratingCount: 0, rating: 0 },
      modelVersions: [...versions].reverse(),
    });
    // Local files: mostly the newest version; sometimes older ones too (and not always the newest).
    const local = prng.next() < 0.85 ? versions.slice(-localCount) : versions.slice(0, localCount);
    for (const version of local) {
      if (files.length >= count) break;
      const onCivitai = prng.next() >= 0.1;
      const baseFolder = base.replace(/[^A-Za-z0-9.]+/g, '');
      const folder = folderRoot === 'Lora' ? `Lora/${baseFolder}/${category}` : folderRoot === 'Checkpoint' ? `Checkpoint/${baseFolder}` : `Embeddings/${baseFolder}`;
      const stemBase = name.replace(/[^A-Za-z0-9]+/g, prng.next() < 0.5 ? '_' : '').replace(/^_+|_+$/g, '') || 'model';
      let stem = `${stemBase}_${version.name.replace(/[^A-Za-z0-9]+/g, '')}`;
      if (prng.next() < 0.2) stem += `-${String(Math.floor(prng.next() * 100000)).padStart(6, '0')}`;
      let relativePath = `${folder}/${stem}.safetensors`;
      for (let n = 2; usedPaths.has(relativePath); n += 1) relativePath = `${folder}/${stem}_${n}.safetensors`;
      usedPaths.add(relativePath);
      const metadata: Record<string, string> = prng.next() < 0.4
        ? { ss_output_name: stem, ss_network_dim: '16', ss_tag_frequency: JSON.stringify({ [`10_${stem}`]: Object.fromEntries(tags.map((tag) => [tag, 1 + Math.floor(prng.next() * 40)])) }) }
        : { 'modelspec.title': name };
      const header = { __metadata__: metadata, weight: { dtype: 'F16', shape: [32], data_offsets: [0, 64] } };
      let json = Buffer.from(JSON.stringify(header), 'utf8');
      json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(json.length));
      const data = createHash('sha256').update(`${relativePath}:${files.length}`).digest();
      const bytes = Buffer.concat([length, json, data, data]);
      files.push({
        relativePath,
        bytes,
        mtime: start / 1000 + Math.floor(prng.next() * 1400 * 86_400),
        ...(onCivitai ? { versionId: version.id } : {}),
      });
    }
  }
  return { files, models };
}

// ---------------------------------------------------------------- parent: measure

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: '10000' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'skip-warm': { type: 'boolean', default: false },
      /** Builds only: no Chromium measurements. */
      'no-browser': { type: 'boolean', default: false },
      /** Each build also writes trace-<cold|warm>.log: RSS, heap and CPU so far every second beside Astro's stage lines (and the CPU by phase is printed). */
      'trace-memory': { type: 'boolean', default: false },
      /** Each build also writes a V8 CPU profile into cpu-prof-<cold|warm>/ (open it in Chrome's DevTools). */
      'cpu-prof': { type: 'boolean', default: false },
      /** Only the browser measurements, on the dist/ of an earlier run kept with --dir. */
      'measure-only': { type: 'boolean', default: false },
    },
  });
  if (values['measure-only']) {
    if (!values.dir) throw new Error('--measure-only needs the --dir of an earlier run');
    const pages = await measureBrowser(path.join(path.resolve(values.dir), 'dist'), (line) => process.stdout.write(`${line}\n`));
    process.stdout.write(`\n${JSON.stringify(pages, null, 2)}\n`);
    return;
  }
  const count = Number(values.models);
  const dir = values.dir ? path.resolve(values.dir) : await mkdtemp(path.join(tmpdir(), 'cs-bench-site-'));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(`bench: ${count} model files in ${dir}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`);

  let t = performance.now();
  const { files, models } = synthesize(count);
  const libraryDir = path.join(dir, 'library');
  const fixturesDir = path.join(dir, 'fixtures');
  await mkdir(fixturesDir, { recursive: true });
  await writeFile(path.join(fixturesDir, 'models-list_bench-synthetic.json'), JSON.stringify({ items: models, metadata: {} }));
  const bindings: CatalogBinding[] = [];
  for (const file of files) {
    const target = path.join(libraryDir, ...file.relativePath.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, file.bytes);
    await utimes(target, file.mtime, file.mtime);
    if (file.versionId !== undefined) {
      bindings.push({ sha256: createHash('sha256').update(file.bytes).digest('hex').toUpperCase(), size: file.bytes.length, versionId: file.versionId });
    }
  }
  log(`  library: ${files.length} files, ${models.length} models, ${bindings.length} on CivitAI (${((performance.now() - t) / 1000).toFixed(1)} s)`);

  const { startFakeCivitai } = await import('../src/dev/fake-civitai/index.ts');
  const fake = await startFakeCivitai({ fixturesDir, bindings });
  const results: Record<string, unknown> = { models: count };
  try {
    t = performance.now();
    const rendered = await prerender(fake, models, new Set(files.map((file) => file.versionId)), PREVIEW_WIDTH);
    log(`  the fake CDN rendered ${rendered} previews before the builds (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    const configPath = path.join(dir, 'civitscraper.yaml');
    const inputPaths = Object.fromEntries(
      [['loras', 'Lora', 'LORA'], ['checkpoints', 'Checkpoint', 'Checkpoint'], ['embeddings', 'Embeddings', 'TextualInversion']].map(([id, folder, type]) => [
        id,
        { path: path.join(libraryDir, folder as string), type, patterns: ['*.safetensors'], recursive: true },
      ]),
    );
    await writeFile(
      configPath,
      stringify({
        api: { base_url: fake.apiBaseUrl, timeout: 30, max_retries: 2, batch: { retry_delay: 100, rate_limit: 1_000_000, max_concurrent: 8 } },
        input_paths: inputPaths,
        default_job: 'gallery',
        jobs: {
          gallery: {
            type: 'scan-paths',
            output: {
              metadata: { html: { gallery_title: `Bench: ${count.toLocaleString('en')} models` } },
              images: { max_count: 1, width: PREVIEW_WIDTH },
              compat: { civitai_info: false, a1111_user_metadata: false, webui_preview: false },
            },
          },
        },
        scanner: { cache_dir: path.join(dir, '.cache') },
      }),
    );
    const outDir = path.join(dir, 'dist');
    const cacheDir = path.join(dir, 'astro-cache');
    const build = async (label: string) => {
      const started = performance.now();
      const profile = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, `cpu-prof-${label}`)}`] : [];
      const { stdout, stderr } = await run(process.execPath, [...profile, fileURLToPath(import.meta.url), '--child', '--config', configPath, '--out', outDir, '--cache', cacheDir], {
        cwd: ROOT,
        maxBuffer: 256 * 1024 * 1024,
        env: { ...process.env, NODE_OPTIONS: '', ...(values['trace-memory'] ? { CS_BENCH_TRACE_MEMORY: '1' } : {}) },
      });
      if (values['trace-memory']) await writeFile(path.join(dir, `trace-${label}.log`), `${stdout}\n${stderr}`);
      const line = stdout.split('\n').find((text) => text.startsWith('@@BENCH '));
      const child = JSON.parse(line?.slice(8) ?? '{}') as { ms: number; cpuMs: number; maxRssKiB: number };
      const wall = performance.now() - started;
      log(`  ${label} build: ${(wall / 1000).toFixed(1)} s wall (${(child.ms / 1000).toFixed(1)} s in build, ${(child.cpuMs / 1000).toFixed(1)} s CPU), peak RSS ${(child.maxRssKiB / 1024).toFixed(0)} MiB`);
      if (values['trace-memory']) log(`    CPU by phase: ${phaseLine(`${stdout}\n${stderr}`, child.cpuMs / 1000)}`);
      return { wallSeconds: round(wall / 1000, 1), buildSeconds: round(child.ms / 1000, 1), cpuSeconds: round(child.cpuMs / 1000, 1), peakRssMiB: Math.round(child.maxRssKiB / 1024) };
    };
    const bare = async (label: string) => {
      const { stdout } = await run(
        process.execPath,
        [fileURLToPath(import.meta.url), '--bare-child', '--pages', String(count), '--out', path.join(dir, 'bare-dist'), '--cache', path.join(dir, 'bare-cache')],
        { cwd: ROOT, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } },
      );
      const child = JSON.parse(stdout.split('\n').find((text) => text.startsWith('@@BENCH '))?.slice(8) ?? '{}') as { ms: number; cpuMs: number; maxRssKiB: number };
      log(`  bare Astro ${label} build of ${count + 1} pages: ${(child.ms / 1000).toFixed(1)} s (${(child.cpuMs / 1000).toFixed(1)} s CPU), peak RSS ${(child.maxRssKiB / 1024).toFixed(0)} MiB`);
      return { buildSeconds: round(child.ms / 1000, 1), cpuSeconds: round(child.cpuMs / 1000, 1), peakRssMiB: Math.round(child.maxRssKiB / 1024) };
    };
    t = performance.now();
    results.bareCold = await bare('cold');
    results.bareWarm = await bare('warm');
    results.cold = await build('cold');
    if (!values['skip-warm']) results.warm = await build('warm');
    const ratio = (ours: unknown, base: unknown) => round((ours as { buildSeconds: number }).buildSeconds / (base as { buildSeconds: number }).buildSeconds, 1);
    const cpuRatio = (ours: unknown, base: unknown) => round((ours as { cpuSeconds: number }).cpuSeconds / (base as { cpuSeconds: number }).cpuSeconds, 1);
    results.coldVsBare = ratio(results.cold, results.bareCold);
    results.coldCpuVsBare = cpuRatio(results.cold, results.bareCold);
    log(`  cold build = ${results.coldVsBare}× a bare Astro build of the same page count (CPU: ${results.coldCpuVsBare}×)`);
    if (results.warm) {
      results.warmVsBare = ratio(results.warm, results.bareWarm);
      results.warmCpuVsBare = cpuRatio(results.warm, results.bareWarm);
      log(`  warm build = ${results.warmVsBare}× a bare Astro warm build (CPU: ${results.warmCpuVsBare}×)`);
    }
    results.loadAverage = round(loadavg()[0]!, 1);
    log(`  load average at the end: ${results.loadAverage}`);
    if (!values['no-browser']) results.pages = await measureBrowser(outDir, log);
    const indexHtml = await stat(path.join(outDir, 'index.html'));
    results.galleryHtmlBytes = indexHtml.size;
  } finally {
    await fake.close();
  }
  const report = path.join(dir, 'bench-site.json');
  await writeFile(report, `${JSON.stringify(results, null, 2)}\n`);
  log(`\n${JSON.stringify(results, null, 2)}`);
  log(`@@BENCH ${JSON.stringify(results)}`);
  if (!values.keep && !values.dir) await rm(dir, { recursive: true, force: true });
  else log(`kept: ${dir}`);
}

const PREVIEW_WIDTH = 450;

/** Asks the fake CDN once for every preview the build will download (the rendition it asks for). */
async function prerender(fake: Awaited<ReturnType<typeof startFakeCivitai>>, models: Record<string, unknown>[], local: Set<number | undefined>, width: number): Promise<number> {
  const urls = models.flatMap((model) =>
    ((model.modelVersions as { id: number; images: { url: string }[] }[] | undefined) ?? [])
      .filter((version) => local.has(version.id))
      .flatMap((version) => version.images.map((image) => cdnRendition(fake.cdnUrl(image.url), { width }))),
  );
  let next = 0;
  const worker = async () => {
    while (next < urls.length) {
      const url = urls[next] as string;
      next += 1;
      const response = await fetch(url);
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return urls.length;
}

/**
 * CPU seconds of a traced build by phase, from its log: the `@@MEM` lines (CPU so far, every
 * second) read at Astro's and the engine's stage lines (timestamps to the second, so each figure
 * is good to about half a second of CPU).
 */
function phaseLine(log: string, totalSeconds: number): string {
  const seconds = (time: string) => time.split(':').reduce((sum, part) => sum * 60 + Number(part), 0);
  // Clock times, made to keep rising past midnight (a build is far shorter than 12 hours).
  let day = 0;
  let last = -1;
  const samples = [...log.matchAll(/@@MEM (\S+) .*?cpu=([\d.]+) s/g)].map((match) => {
    let at = seconds(match[1] as string) + day;
    if (at < last) {
      day += 86_400;
      at += 86_400;
    }
    last = at;
    return [at, Number(match[2])] as const;
  });
  const sinceStart = (time: string): number => {
    const at = seconds(time);
    return at + 43_200 < (samples[0]?.[0] ?? 0) ? at + 86_400 : at;
  };
  /** CPU at the first line `pattern` matches from `from` on, and where that line ends. */
  const cpuAt = (pattern: RegExp, from = 0): { cpu: number; end: number } | undefined => {
    const match = new RegExp(pattern.source, 'gm');
    match.lastIndex = from;
    const found = match.exec(log);
    const time = found?.[1];
    if (!found || time === undefined || samples.length === 0) return undefined;
    return { cpu: cpuAtTime(sinceStart(time)), end: found.index + found[0].length };
  };
  const cpuAtTime = (at: number): number => {
    const after = samples.findIndex(([t]) => t >= at);
    if (after < 0) return samples[samples.length - 1]![1];
    if (after === 0) return samples[0]![1];
    const [t0, c0] = samples[after - 1]!;
    const [t1, c1] = samples[after]!;
    return c0 + ((at - t0) / (t1 - t0)) * (c1 - c0);
  };
  const engineDone = cpuAt(/^(\d\d:\d\d:\d\d) \[civitscraper\] done:/);
  const renderStart = engineDone && cpuAt(/^(\d\d:\d\d:\d\d)\s+├─ /, engineDone.end);
  // Each looked for after the one before: the stages in the order they run.
  const renderEnd = renderStart && cpuAt(/^(\d\d:\d\d:\d\d) ✓ Completed in/, renderStart.end);
  if (!engineDone || !renderStart || !renderEnd) return 'stage lines not found';
  const s = (value: number) => `${value.toFixed(1)} s`;
  return `start + engine ${s(engineDone.cpu)}, site sync + bundling ${s(renderStart.cpu - engineDone.cpu)}, rendering ${s(renderEnd.cpu - renderStart.cpu)}, images + after ${s(totalSeconds - renderEnd.cpu)}`;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}


function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { n: sorted.length, medianMs: round(at(0.5), 1), p95Ms: round(at(0.95), 1), maxMs: round(sorted[sorted.length - 1] ?? 0, 1) };
}

/**
 * What the gallery's tab holds after the interactions: V8's heap and the DOM (Chromium's own
 * counters over CDP, after a GC), and the renderer processes' private memory from /proc (what a
 * task manager shows as the tab's footprint, decoded images included). Linux only for the last.
 */
async function tabMemory(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const metric = (name: string) => metrics.find((entry) => entry.name === name)?.value ?? 0;
  let rendererPrivateBytes: number | undefined;
  try {
    rendererPrivateBytes = 0;
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (!cmdline.includes('--type=renderer')) continue;
      const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
      for (const match of rollup.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) rendererPrivateBytes += Number(match[1]) * 1024;
    }
  } catch {
    rendererPrivateBytes = undefined;
  }
  return { jsHeapBytes: metric('JSHeapUsedSize'), domNodes: metric('Nodes'), rendererPrivateBytes };
}

async function measureBrowser(outDir: string, log: (line: string) => void) {
  const { serveStatic } = await import('../src/dev/static-server.ts');
  const { launchChromium } = await import('../src/dev/browser.ts');
  const server = await serveStatic(outDir);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const fetched: { url: string; type: string; bytes: number; gzip: number; brotli: number }[] = [];
    const pending: Promise<void>[] = [];
    page.on('response', (response) => {
      pending.push(
        (async () => {
          const type = response.request().resourceType();
          if (type === 'image' || type === 'media') return;
          const body = await response.body().catch(() => Buffer.alloc(0));
          fetched.push({ url: response.url().replace(origin, ''), type, bytes: body.length, gzip: gzipSync(body, { level: 6 }).length, brotli: brotliCompressSync(body).length });
        })(),
      );
    });
    const started = Date.now();
    await page.goto(`${origin}/index.html`, { waitUntil: 'load' });
    await page.waitForFunction(() => (window as unknown as { __csGallery?: { extraMs?: number } }).__csGallery?.extraMs !== undefined);
    const loadMs = Date.now() - started;
    await Promise.all(pending);
    const { bootMs, extraMs } = await page.evaluate(() => (window as unknown as { __csGallery: { bootMs: number; extraMs: number } }).__csGallery);
    const sum = (items: typeof fetched) => ({
      resources: items.map(({ url, bytes, gzip }) => ({ url: decodeURIComponent(url), bytes, gzip })),
      bytes: items.reduce((total, item) => total + item.bytes, 0),
      gzipBytes: items.reduce((total, item) => total + item.gzip, 0),
      brotliBytes: items.reduce((total, item) => total + item.brotli, 0),
    });
    // First load: what the gallery needs for its first paint (page, styles, scripts: its first
    // cards are in the page). Then the index's core, which filtering needs, and its second part
    // (ids, file names, trigger words), both loaded behind the first paint.
    const inData = (item: (typeof fetched)[number], prefix: string) => item.url.includes(`/gallery-data/${prefix}`);
    const firstLoad = sum(fetched.filter((item) => !item.url.includes('/gallery-data/')));
    const coreIndex = sum(fetched.filter((item) => inData(item, 'core-')));
    const afterPaint = sum(fetched.filter((item) => inData(item, 'gallery-')));
    const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
    log(`  first load without images: ${kib(firstLoad.gzipBytes)} gzip (${kib(firstLoad.brotliBytes)} brotli, ${kib(firstLoad.bytes)} raw) in ${firstLoad.resources.length} files`);
    log(`  the index's core, loaded behind the first cards (filtering needs it): ${kib(coreIndex.gzipBytes)} gzip (${kib(coreIndex.bytes)} raw)`);
    log(`  the rest of the index, fetched after the first paint: ${kib(afterPaint.gzipBytes)} gzip (${kib(afterPaint.bytes)} raw); all three ${kib(firstLoad.gzipBytes + coreIndex.gzipBytes + afterPaint.gzipBytes)} gzip`);
    log(`  gallery filterable ${bootMs.toFixed(0)} ms after navigation start, complete at ${extraMs.toFixed(0)} ms`);

    const typeQuery = (query: string) =>
      page.evaluate((text) => {
        const input = document.getElementById('q') as HTMLInputElement;
        const times: number[] = [];
        for (let i = 1; i <= text.length; i++) {
          const t0 = performance.now();
          input.value = text.slice(0, i);
          input.dispatchEvent(new Event('input', { bubbles: true }));
          void document.body.getBoundingClientRect().height;
          void document.getElementById('results')?.offsetHeight;
          times.push(performance.now() - t0);
        }
        for (let i = text.length - 1; i >= 0; i--) {
          const t0 = performance.now();
          input.value = text.slice(0, i);
          input.dispatchEvent(new Event('input', { bubbles: true }));
          void document.getElementById('results')?.offsetHeight;
          times.push(performance.now() - t0);
        }
        return times;
      }, query);
    const keystrokes = [...(await typeQuery('neon samurai')), ...(await typeQuery('aiko')), ...(await typeQuery('illustrious style')), ...(await typeQuery('xyz no match'))];
    const keys = stats(keystrokes);
    log(`  per keystroke (script + style + layout): median ${keys.medianMs} ms, p95 ${keys.p95Ms} ms, max ${keys.maxMs} ms over ${keys.n}`);
    log('  (the facet counts follow 150 ms after typing pauses; that update costs what a facet click costs, below)');

    const clicks = await page.evaluate(() => {
      const times: number[] = [];
      const boxes = () => [...document.querySelectorAll<HTMLInputElement>('#facets input[type=checkbox]:not(:disabled)')];
      for (let round = 0; round < 10; round++) {
        const box = boxes()[round % 6];
        if (!box) break;
        const t0 = performance.now();
        box.click();
        void document.getElementById('results')?.offsetHeight;
        times.push(performance.now() - t0);
      }
      return times;
    });
    const facet = stats(clicks);
    log(`  facet click: median ${facet.medianMs} ms, max ${facet.maxMs} ms`);
    const sorts = await page.evaluate(() => {
      const select = document.getElementById('sort') as HTMLSelectElement;
      const times: number[] = [];
      for (const value of ['downloads', 'created', 'updated', 'thumbs', 'rating', 'size', 'added', 'name']) {
        const t0 = performance.now();
        select.value = value;
        select.dispatchEvent(new Event('change', { bubbles: true }));
        void document.getElementById('results')?.offsetHeight;
        times.push(performance.now() - t0);
      }
      return times;
    });
    const sort = stats(sorts);
    log(`  sort change (first use of each sort): median ${sort.medianMs} ms, max ${sort.maxMs} ms`);
    const memory = await tabMemory(page);
    const mib = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MiB`;
    log(
      `  the tab after all that: JS heap ${mib(memory.jsHeapBytes)}, ${memory.domNodes.toLocaleString('en')} DOM nodes` +
        (memory.rendererPrivateBytes !== undefined ? `, renderer private memory ${mib(memory.rendererPrivateBytes)}` : ''),
    );
    return {
      firstLoad,
      coreIndex,
      afterPaint,
      totalGzipBytes: firstLoad.gzipBytes + coreIndex.gzipBytes + afterPaint.gzipBytes,
      bootMs: round(bootMs, 0),
      extraMs: round(extraMs, 0),
      loadMs,
      keystroke: keys,
      facetClick: facet,
      sortChange: sort,
      memory,
    };
  } finally {
    await browser.close();
    server.close();
  }
}

await main();
