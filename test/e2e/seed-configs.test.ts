/**
 * A CivitScraper (Python) user's own config, unchanged but for where their folders and the API
 * are: `test/fixtures/configs/seed-example.yaml` (every section of the seed's example config and
 * CONFIGURATION.md) with `/mnt/models` pointing at a copy of the sample library and `base_url` at
 * the fake CivitAI. Run through the seed's main command (`civitscraper`, no arguments: the
 * `default_job`) and through `npm run build` (astro build of this repository's site with the
 * config from `$CIVITSCRAPER_CONFIG`), it does what the seed's docs say, with the differences the
 * README's "Coming from CivitScraper" table lists and no others.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { generateSampleLibrary, type SampleLibrary } from '../../src/dev/sample-library/index.ts';
import { BIN, createCliWorkspace, type CliWorkspace } from '../cli/helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SEED_CONFIG = path.join(ROOT, 'test', 'fixtures', 'configs', 'seed-example.yaml');
const run = promisify(execFile);

let workspace: CliWorkspace;
let models: string;
let library: SampleLibrary;
let configPath: string;
let env: NodeJS.ProcessEnv;

/** The user's config with their paths and the API moved; every other key and value as written. */
function translate(text: string, mount: string, apiBaseUrl: string): string {
  const config = parse(text.replaceAll('/mnt/models/Stable-diffusion', `${mount}/Checkpoint`).replaceAll('/mnt/models/embeddings', `${mount}/Embeddings`).replaceAll('/mnt/models', mount).replaceAll('/home/artist', path.dirname(mount)));
  config.api.base_url = apiBaseUrl;
  return stringify(config);
}

async function cli(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd: workspace.root, env: { ...env, ...extra }, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** Warnings the seed's own example config is expected to get (each is in the README table). */
const EXPECTED_WARNINGS = [/api\.batch\.enabled \(line \d+\): has no effect/, /skip_existing_html \(line \d+\): has no effect/, /scanner\.version_cache_validity \(line \d+\): has no effect/, /api\.key \(line \d+\): is still the example placeholder/];

function warningsOf(text: string): string[] {
  return text.split('\n').filter((line) => /\bwarn(ing)?\b|⚠|\[WARN\]/i.test(line));
}

describe('the seed example config, run as its user runs it', () => {
  beforeAll(async () => {
    workspace = await createCliWorkspace('cs-seed-config-');
    models = path.join(workspace.root, 'mnt', 'models');
    library = await generateSampleLibrary(models);
    // A clean library: the sample's deliberately broken files have their own tests.
    for (const entry of library.entries) if (entry.kind !== 'identified' && entry.kind !== 'unknown') await rm(path.join(models, entry.relativePath), { force: true });
    configPath = path.join(workspace.root, 'config', 'default.yaml');
    await mkdir(path.dirname(configPath), { recursive: true });
    await writeFile(configPath, translate(await readFile(SEED_CONFIG, 'utf8'), models, workspace.fake.apiBaseUrl));
    env = { ...process.env, HOME: workspace.root, CIVITSCRAPER_CONFIG: '', NO_COLOR: '1' };
    delete env.CIVITAI_API_KEY;
  }, 120_000);

  afterAll(async () => {
    await workspace?.close();
  });

  it('`civitscraper` (the default job) writes sidecars and previews as configured, builds the gallery at gallery_path and says where', async () => {
    // The seed looked for ./config/default.yaml in the working directory; so does this.
    const first = await cli([]);
    expect(first.code, first.stderr).toBe(0);
    const galleryPath = path.join(models, 'gallery.html');
    expect(first.stderr + first.stdout).toContain(galleryPath);
    expect((await stat(galleryPath)).isFile()).toBe(true);
    const entry = await readFile(galleryPath, 'utf8');
    expect(entry).toMatch(/gallery-site\//);
    const site = path.join(models, 'gallery-site');
    expect((await readdir(path.join(site, 'models'))).length).toBeGreaterThan(3);
    expect(await readFile(path.join(site, 'index.html'), 'utf8')).toContain('My LoRA Gallery');

    // `{model_name}.json` beside each identified LoRA, previews as `{model_name}.preview{ext}` (max 4).
    const loras = library.entries.filter((entry) => entry.kind === 'identified' && entry.relativePath.startsWith('Lora/'));
    expect(loras.length).toBeGreaterThan(2);
    for (const lora of loras) {
      const stem = lora.relativePath.replace(/\.safetensors$/, '');
      const metadata = JSON.parse(await readFile(path.join(models, `${stem}.json`), 'utf8'));
      expect(metadata).toBeTypeOf('object');
      const folder = path.dirname(path.join(models, lora.relativePath));
      // Numbered like the seed's (`.preview1.jpeg`, …); the unnumbered `.preview.<ext>` beside them
      // is the thumbnail WebUIs show (README, "What it does").
      const names = (await readdir(folder)).filter((name) => name.startsWith(`${path.basename(stem)}.preview`));
      const previews = names.filter((name) => /\.preview\d+\.[a-z0-9]+$/.test(name));
      expect(previews.length).toBeGreaterThan(0);
      // A video preview also gets its still frame (`.preview1.still.jpeg`) for the cards.
      expect(names.filter((name) => !previews.includes(name) && !/\.preview(\d+\.still)?\.[a-z0-9]+$/.test(name))).toEqual([]);
      expect(previews.length, previews.join(", ")).toBeLessThanOrEqual(4);
    }
    // Only the default job's paths (`loras`): checkpoints are left alone.
    const checkpoint = library.entries.find((entry) => entry.kind === 'identified' && entry.relativePath.startsWith('Checkpoint/'));
    if (checkpoint) {
      const siblings = await readdir(path.dirname(path.join(models, checkpoint.relativePath)));
      expect(siblings.some((name) => name.endsWith('.json'))).toBe(false);
    }
    // Nothing moved: organization is disabled in this config.
    await expect(stat(path.join(models, 'organized'))).rejects.toThrow();

    // The warnings are the documented ones, each once.
    const warnings = warningsOf(first.stderr);
    for (const pattern of EXPECTED_WARNINGS) expect(warnings.filter((line) => pattern.test(line)).length, `${pattern}\n${warnings.join('\n')}`).toBeGreaterThanOrEqual(1);
    const unexpected = warnings.filter((line) => !EXPECTED_WARNINGS.some((pattern) => pattern.test(line)));
    expect(unexpected).toEqual([]);
    expect(warnings.filter((line) => /api\.batch\.enabled/.test(line))).toHaveLength(1);

    // Run again (the engine only; the site build is the same as above): nothing to fetch, same exit code.
    const requests = workspace.fake.requests.length;
    const second = await cli(['--no-site']);
    expect(second.code, second.stderr).toBe(0);
    expect(workspace.fake.requests.slice(requests).filter((request) => request.path.includes('/api/v1/'))).toEqual([]);
    expect((await stat(galleryPath)).isFile()).toBe(true);
  });

  it('`npm run build` with the same config builds the gallery of the default job, with the same warnings and nothing else', async () => {
    const outDir = path.join(workspace.root, 'npm-build');
    const buildEnv: NodeJS.ProcessEnv = { ...env, CIVITSCRAPER_CONFIG: configPath, PATH: `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}` };
    for (const name of Object.keys(buildEnv)) if (name.startsWith('VITEST') || name === 'NODE_ENV') delete buildEnv[name];
    let output = '';
    try {
      const result = await run('npm', ['run', 'build', '--', '--outDir', outDir], { cwd: ROOT, env: buildEnv, maxBuffer: 64 * 1024 * 1024 });
      output = result.stdout + result.stderr;
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string };
      throw new Error(`npm run build failed:\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`);
    }
    expect((await readdir(path.join(outDir, 'models'))).length).toBeGreaterThan(3);
    expect(await readFile(path.join(outDir, 'index.html'), 'utf8')).toContain('My LoRA Gallery');
    // The bookmark's copy is refreshed by the build too.
    expect(output).toContain(path.join(models, 'gallery.html'));
    const warnings = output.split('\n').filter((line) => /\[WARN\]|\bwarn/i.test(line) && /civitscraper/i.test(line));
    const unexpected = warnings.filter((line) => !EXPECTED_WARNINGS.some((pattern) => pattern.test(line)));
    expect(unexpected).toEqual([]);
    for (const pattern of EXPECTED_WARNINGS.slice(0, 1)) expect(warnings.filter((line) => pattern.test(line))).toHaveLength(1);
  });
});
