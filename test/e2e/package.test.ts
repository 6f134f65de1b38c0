/**
 * The package as a stranger gets it: packed with `npm pack`, installed from the tarball into a
 * fresh Astro site that has a page of its own (fixtures/host-site), built there, and its CLI run
 * from node_modules/.bin. The build reads a generated sample library identified against the
 * local fake CivitAI.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startFakeCivitai, type FakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { generateSampleLibrary, sampleInputPaths, type SampleLibrary } from '../../src/dev/sample-library/index.ts';

const exec = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..', '..');
const run = (command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) =>
  exec(command, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });

/** The CLI exits 1 on this library (it holds unreadable files on purpose): keep the output. */
const runCli = (args: string[], cwd: string) =>
  run(path.join(site, 'node_modules', '.bin', 'civitscraper'), args, cwd).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout: string; stderr: string }) => ({ code: error.code ?? -1, stdout: error.stdout, stderr: error.stderr }),
  );

let work: string;
let tarball: string;
let site: string;
let configPath: string;
let library: SampleLibrary;
let fake: FakeCivitai;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cs-e2e-'));
  // `npm test` compiled dist/ already (pretest); packing again would only repeat it.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], repo);
  tarball = path.join(work, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);

  site = path.join(work, 'host-site');
  await cp(path.join(import.meta.dirname, 'fixtures', 'host-site'), site, { recursive: true });
  const astroVersion = (JSON.parse(await readFile(path.join(repo, 'node_modules', 'astro', 'package.json'), 'utf8')) as { version: string }).version;
  // --prefer-offline: the repository's own `npm ci` has filled npm's cache with these packages.
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `astro@${astroVersion}`], site);

  library = await generateSampleLibrary(path.join(work, 'library'));
  fake = await startFakeCivitai({ library });
  configPath = await writeConfig('civitscraper.yaml', 'library', 'cache');
}, 600_000);

/** A config for a library under `work`, identified against the fake CivitAI. */
async function writeConfig(name: string, libraryDir: string, cacheDir: string, scanner: Record<string, unknown> = {}): Promise<string> {
  const file = path.join(work, name);
  await writeFile(
    file,
    stringify({
      api: { base_url: fake.apiBaseUrl, timeout: 10, max_retries: 2 },
      input_paths: sampleInputPaths(path.join(work, libraryDir)),
      scanner: { cache_dir: path.join(work, cacheDir), ...scanner },
    }),
  );
  return file;
}

afterAll(async () => {
  await fake?.close();
});

const readable = () => library.entries.filter((entry) => entry.kind === 'identified' || entry.kind === 'unknown');

describe('the packed tarball', () => {
  it('ships compiled JavaScript, types and the bin; no sources, tests, benches or docs', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball], work);
    const files = stdout.trim().split('\n').map((line) => line.replace(/^package\//, ''));
    expect(files).toContain('dist/integration/index.js');
    expect(files).toContain('dist/integration/index.d.ts');
    expect(files).toContain('dist/integration/loaders.js');
    expect(files).toContain('dist/integration/engine/scan/hash-worker.js');
    expect(files).toContain('dist/integration/routes/model.astro');
    expect(files).toContain('bin/civitscraper.mjs');
    for (const file of files) {
      expect(file).not.toMatch(/^(test|bench|docs|src|scripts|\.ci|demo)\//);
      expect(file).not.toMatch(/\.png$/);
    }
    const manifest = JSON.parse(await readFile(path.join(site, 'node_modules', 'civitscraper-astro', 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    expect(manifest.peerDependencies?.astro).toBeDefined();
    expect(manifest.dependencies?.astro).toBeUndefined();
  });

  it('passes publint and Are the Types Wrong', async () => {
    const publint = await run(process.execPath, [path.join(repo, 'node_modules', 'publint', 'src', 'cli.js'), '--strict', path.join(site, 'node_modules', 'civitscraper-astro')], repo);
    expect(publint.stdout).toMatch(/All good/);
    // ESM only, as Astro 7 is: CommonJS and node10 resolution are out of scope. Any problem in
    // the others exits 1, which rejects here.
    const attw = await run(process.execPath, [path.join(repo, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js'), tarball, '--profile', 'esm-only'], repo);
    expect(attw.stdout).toContain("ignoring resolutions: 'node10', 'node16-cjs'");
  });
});

describe('a host Astro site with civitscraper() in its integrations', () => {
  it('builds the gallery and one page per model file; the host page keeps its absolute links', async () => {
    await run(process.execPath, ['node_modules/astro/bin/astro.mjs', 'build'], site, { CIVITSCRAPER_CONFIG: configPath });
    const dist = path.join(site, 'dist');
    const gallery = await readFile(path.join(dist, 'index.html'), 'utf8');
    expect(gallery).toContain('id="gallery"');
    const ids = await readdir(path.join(dist, 'models'));
    expect(ids).toHaveLength(readable().length);
    for (const id of ids) expect(existsSync(path.join(dist, 'models', id, 'index.html'))).toBe(true);
    // The gallery's pages are relative (they work from disk); the host's are as Astro wrote them.
    expect(gallery).not.toMatch(/\s(?:src|href)="\/(?!\/)/);
    const page = await readFile(path.join(dist, 'models', ids[0]!, 'index.html'), 'utf8');
    expect(page).toMatch(/href="\.\.\/\.\.\/_astro\/[^"]+\.css"/);
    const host = await readFile(path.join(dist, 'hello', 'index.html'), 'utf8');
    expect(host).toContain('href="/"');
    expect(host).toContain('src="/pictures/host.png"');
    expect(host).toContain('href="/favicon.svg"');
  });

  it('puts the gallery under `base`, next to the host page', async () => {
    const outDir = path.join(work, 'dist-base');
    await run(process.execPath, ['node_modules/astro/bin/astro.mjs', 'build', '--outDir', outDir], site, {
      CIVITSCRAPER_CONFIG: configPath,
      GALLERY_BASE: '/library/',
    });
    expect(existsSync(path.join(outDir, 'index.html'))).toBe(false);
    const gallery = await readFile(path.join(outDir, 'library', 'index.html'), 'utf8');
    expect(gallery).toMatch(/href="\.\.\/_astro\/[^"]+\.css"/);
    expect(await readdir(path.join(outDir, 'library', 'models'))).toHaveLength(readable().length);
    expect(await readFile(path.join(outDir, 'hello', 'index.html'), 'utf8')).toContain('href="/"');
  });
});

describe('astro sync and astro check in the host site', () => {
  it('never run the engine: nothing is read, written or moved, even with organize enabled', async () => {
    await generateSampleLibrary(path.join(work, 'library-sync'));
    const file = await writeConfig('sync.yaml', 'library-sync', 'cache-sync');
    const text = await readFile(file, 'utf8');
    await writeFile(file, `${text}jobs:\n  main:\n    type: scan-paths\n    organization: { enabled: true, operation_mode: move, output_dir: sorted }\n`);
    const before = (await readdir(path.join(work, 'library-sync'), { recursive: true })).sort();
    const requests = fake.requests.length;
    await run(process.execPath, ['node_modules/astro/bin/astro.mjs', 'sync'], site, { CIVITSCRAPER_CONFIG: file });
    expect((await readdir(path.join(work, 'library-sync'), { recursive: true })).sort()).toEqual(before);
    expect(existsSync(path.join(work, 'cache-sync'))).toBe(false);
    expect(existsSync(path.join(work, 'sorted'))).toBe(false);
    expect(fake.requests.length).toBe(requests);
  });
});

describe('the installed civitscraper command', () => {
  it('prints its help', async () => {
    const { code, stdout } = await runCli(['--help'], site);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: civitscraper/);
  });

  it('scans with worker threads from the compiled package', async () => {
    // A library of its own, never scanned: every readable file is hashed, on the pool.
    const fresh = await generateSampleLibrary(path.join(work, 'library-cli'));
    // Threads asked for: a library this small would be hashed on the main thread otherwise.
    const cliConfig = await writeConfig('cli.yaml', 'library-cli', 'cache-cli', { hash_threads: 2 });
    const { code, stdout, stderr } = await runCli(['scan', '--config', cliConfig, '--debug', '--json'], site);
    expect(stderr).not.toMatch(/ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING|main thread/);
    expect(stderr).toMatch(/hash pool: \d+ worker threads \(hash-worker\.js\)/);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { files: { found: number }; hash: { files: number } };
    expect(report.files.found).toBe(fresh.entries.length - 1); // the broken symlink is reported, not found
    expect(report.hash.files).toBeGreaterThan(0);
  });

  it('`civitscraper build --out DIR` from an empty folder builds the bundled site into DIR', async () => {
    const empty = path.join(work, 'empty');
    await mkdir(empty);
    const out = path.join(empty, 'site');
    const { code, stderr } = await runCli(['build', '-c', configPath, '--out', out, '--quiet'], empty);
    expect(stderr).not.toMatch(/site build failed/);
    expect(code).toBe(1);
    expect(existsSync(path.join(out, 'index.html'))).toBe(true);
    expect(await readdir(path.join(out, 'models'))).toHaveLength(readable().length);
    // Nothing was written into the empty folder but the site, nor into the package.
    expect(await readdir(empty)).toEqual(['site']);
    const pkg = path.join(site, 'node_modules', 'civitscraper-astro');
    expect((await readdir(pkg)).sort()).toEqual(['LICENSE', 'README.md', 'bin', 'dist', 'package.json']);
  });
});
