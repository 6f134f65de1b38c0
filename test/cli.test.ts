import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startFakeCivitai, type FakeCivitai } from '../src/dev/fake-civitai/index.ts';
import { generateSampleLibrary, sampleInputPaths, type SampleLibrary } from '../src/dev/sample-library/index.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/civitscraper.mjs');
let root: string;
let library: SampleLibrary;
let fake: FakeCivitai;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cs-cli-'));
  library = await generateSampleLibrary(path.join(root, 'pristine'));
  fake = await startFakeCivitai({ library });
});
afterAll(async () => {
  await fake.close();
});

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

async function configFor(name: string, inputIds?: string[]) {
  const dir = path.join(root, name);
  await cp(path.join(root, 'pristine'), dir, { recursive: true, verbatimSymlinks: true });
  const inputPaths = sampleInputPaths(dir);
  const file = path.join(dir, 'civitscraper.yaml');
  await writeFile(
    file,
    stringify({
      api: { base_url: fake.apiBaseUrl, key: 'cli-sentinel-key-42', max_retries: 1, batch: { retry_delay: 1 } },
      input_paths: inputIds ? Object.fromEntries(inputIds.map((id) => [id, inputPaths[id as keyof typeof inputPaths]])) : inputPaths,
      scanner: { cache_dir: path.join(dir, '.cache') },
    }),
  );
  return { dir, file };
}

describe('civitscraper CLI', () => {
  it('runs the engine, writes the report and exits 1 when some files failed', async () => {
    const { file } = await configFor('full');
    const reportFile = path.join(root, 'full-report.json');
    const result = await cli(['--config', file, '--report', reportFile, '--debug']);
    expect(result.code).toBe(1);
    const report = JSON.parse(await readFile(reportFile, 'utf8'));
    const readable = library.entries.filter((entry) => entry.kind === 'identified' || entry.kind === 'unknown');
    expect(report.files).toEqual({ found: readable.length + 3, failed: 4 });
    expect(report.hash.files).toBe(readable.length);
    expect(report.hash.bytes).toBe(readable.reduce((sum, entry) => sum + entry.size, 0));
    expect(typeof report.hash.seconds).toBe('number');
    expect(report.api.requests).toBeGreaterThan(0);
    expect(report.api.identified).toBe(library.entries.filter((entry) => entry.kind === 'identified').length);
    expect(report.api.notFound).toBe(library.entries.filter((entry) => entry.kind === 'unknown').length);
    expect(report.images.downloaded).toBeGreaterThan(0);
    expect(report.errors).toHaveLength(4);
    for (const error of report.errors) expect(Object.keys(error).sort()).toEqual(['message', 'path', 'stage']);
    // --debug logs every request, never the key.
    expect(result.stderr).toContain('POST');
    expect(`${result.stdout}${result.stderr}`).not.toContain('cli-sentinel-key-42');
  });

  it('exits 0 when every file was processed (unknown on CivitAI is not an error)', async () => {
    const { file } = await configFor('clean', ['embeddings']);
    const result = await cli(['-c', file, '--json', '--quiet']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.api.notFound).toBe(1);
    expect(report.files.failed).toBe(0);
  });

  it('exits 2 with a message naming the file and key for a bad config', async () => {
    const file = path.join(root, 'bad.yaml');
    await writeFile(file, 'input_paths:\n  loras:\n    path: /x\n    type: LORA\napi:\n  timeout: soon\n');
    const result = await cli(['--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toContain('api.timeout');
    expect(result.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('exits 2 for an unknown job and lists the known ones', async () => {
    const { file } = await configFor('jobs', ['embeddings']);
    const result = await cli(['--config', file, '--job', 'nope']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Unknown job "nope"/);
  });

  it('exits 2 for bad arguments, 0 for --help and --version', async () => {
    expect((await cli(['--frobnicate'])).code).toBe(2);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--report FILE');
    const version = await cli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('with no config anywhere, names the places it looked and points at the demo', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'cs-noconf-'));
    const result = await run(process.execPath, [BIN], { cwd: empty, env: { ...process.env, HOME: empty, CIVITSCRAPER_CONFIG: '' } }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect((result as { code: number }).code).toBe(2);
    expect((result as { stderr: string }).stderr).toContain(path.join(empty, 'civitscraper.yaml'));
    expect((result as { stderr: string }).stderr).toContain('npm run demo');
  });
});
