/**
 * The command line as a user runs it: flags, exit codes, the report. A child process against
 * the fake CivitAI and copies of the sample library.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, cli, createCliWorkspace, libraryCopy, readJson, treeDigest, writeConfig, type CliWorkspace } from './helpers.ts';

let ws: CliWorkspace;

beforeAll(async () => {
  ws = await createCliWorkspace('cs-cli-');
});
afterAll(async () => {
  await ws.close();
});

const readable = () => ws.library.entries.filter((entry) => entry.kind === 'identified' || entry.kind === 'unknown');

describe('civitscraper scan (the default command)', () => {
  it('runs the engine, writes the report and exits 1 when some files failed; --debug logs requests, never the key', async () => {
    const { file } = await libraryCopy(ws, 'full');
    const reportFile = path.join(ws.root, 'full-report.json');
    const result = await cli(ws, ['--config', file, '--report', reportFile, '--debug']);
    expect(result.code).toBe(1);
    const report = await readJson(reportFile);
    expect(report.command).toBe('scan');
    expect(report.exitCode).toBe(1);
    expect(report.job).toBe('default');
    expect(report.files).toEqual({ found: readable().length + 3, failed: 4 });
    expect(report.hash.files).toBe(readable().length);
    expect(report.hash.bytes).toBe(readable().reduce((sum, entry) => sum + entry.size, 0));
    expect(typeof report.hash.seconds).toBe('number');
    expect(report.api.requests).toBeGreaterThan(0);
    expect(report.api.identified).toBe(ws.library.entries.filter((entry) => entry.kind === 'identified').length);
    expect(report.api.notFound).toBe(ws.library.entries.filter((entry) => entry.kind === 'unknown').length);
    expect(report.images.downloaded).toBeGreaterThan(0);
    // The failed files are listed, each with path, stage and message.
    expect(report.errors).toHaveLength(4);
    for (const error of report.errors) expect(Object.keys(error).sort()).toEqual(['message', 'path', 'stage']);
    const failedPaths = report.errors.map((error: { path: string }) => path.basename(error.path)).sort();
    expect(failedPaths).toEqual(['broken link.safetensors', 'empty.safetensors', 'not json #2.safetensors', 'truncated header.safetensors']);
    // ...and named on the console too.
    for (const name of failedPaths) expect(result.stderr).toContain(name);
    expect(result.stderr).toContain('POST');
    expect(`${result.stdout}${result.stderr}`).not.toContain(API_KEY);
    // --report alone prints nothing on stdout.
    expect(result.stdout).toBe('');
  });

  it('exits 0 when every file was processed (unknown on CivitAI is not an error); --json prints only JSON; --quiet prints nothing', async () => {
    const { file } = await libraryCopy(ws, 'clean', { inputs: ['embeddings'] });
    const result = await cli(ws, ['-c', file, '--json', '--quiet']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.exitCode).toBe(0);
    expect(report.api.notFound).toBe(1);
    expect(report.files.failed).toBe(0);
    expect(report.errors).toEqual([]);
    expect(result.stderr).toBe('');
  });

  it('without --quiet logs each stage to stderr, plain (no terminal control codes) when piped', async () => {
    const { file } = await libraryCopy(ws, 'piped', { inputs: ['embeddings'] });
    const result = await cli(ws, ['-c', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^discover: /m);
    expect(result.stderr).toMatch(/^hash: /m);
    expect(result.stderr).toMatch(/^identify: /m);
    expect(result.stderr).not.toMatch(/[\r\u001b]/);
  });

  it('--dry-run writes no sidecar, preview or anything else in the library, and reports what it would do', async () => {
    const { dir, file } = await libraryCopy(ws, 'dry');
    const before = await treeDigest(dir);
    const result = await cli(ws, ['-c', file, '--dry-run', '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.dryRun).toBe(true);
    expect(report.api.identified).toBeGreaterThan(0);
    expect(report.sidecars.written).toBe(0);
    expect(await treeDigest(dir)).toEqual(before);
  });

  it('--force-refresh asks CivitAI again for files an earlier run identified', async () => {
    const { file } = await libraryCopy(ws, 'refresh', { inputs: ['checkpoints'] });
    const first = JSON.parse((await cli(ws, ['-c', file, '--json', '-q'])).stdout);
    const second = JSON.parse((await cli(ws, ['-c', file, '--json', '-q'])).stdout);
    const forced = JSON.parse((await cli(ws, ['-c', file, '--json', '-q', '--force-refresh'])).stdout);
    expect(first.api.identified).toBe(2);
    // Without the flag, identified files are not looked up again.
    expect(second.api.requests).toBeLessThan(first.api.requests);
    expect(forced.api.requests).toBeGreaterThan(second.api.requests);
    expect(forced.api.identified).toBe(2);
  });
});

describe('jobs', () => {
  async function jobsConfig(name: string, extra: Record<string, unknown>) {
    return libraryCopy(ws, name, {
      extra: {
        jobs: {
          embeddings: { type: 'scan-paths', paths: ['embeddings'] },
          checkpoints: { type: 'scan-paths', paths: ['checkpoints'] },
          loras: { type: 'scan-paths', paths: ['loras'] },
        },
        ...extra,
      },
    });
  }

  it('-j runs the named job only', async () => {
    const { file } = await jobsConfig('jobs-one', {});
    const result = await cli(ws, ['-c', file, '-j', 'checkpoints', '--json', '-q']);
    const report = JSON.parse(result.stdout);
    expect(report.job).toBe('checkpoints');
    expect(report.files.found).toBe(3);
    expect(result.code).toBe(1);
  });

  it('--all-jobs runs every job in file order; default_job is used when none is named', async () => {
    const { file } = await jobsConfig('jobs-all', { default_job: 'embeddings' });
    const all = await cli(ws, ['-c', file, '--all-jobs', '--json']);
    const report = JSON.parse(all.stdout);
    expect(report.jobs.map((job: { job: string }) => job.job)).toEqual(['embeddings', 'checkpoints', 'loras']);
    expect(all.code).toBe(1);
    // The console says which job is running, in order.
    const order = ['embeddings', 'checkpoints', 'loras'].map((name) => all.stderr.indexOf(`job "${name}"`));
    expect(order.every((index) => index >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    const byDefault = await cli(ws, ['-c', file, '--json', '-q']);
    expect(JSON.parse(byDefault.stdout).job).toBe('embeddings');
    expect(byDefault.code).toBe(0);
  });

  it('exits 2 for an unknown job and lists the known ones', async () => {
    const { file } = await jobsConfig('jobs-unknown', {});
    const result = await cli(ws, ['--config', file, '--job', 'nope']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Unknown job "nope"/);
    expect(result.stderr).toMatch(/Known jobs: .*embeddings.*checkpoints.*loras/);
  });

  it('exits 2 when several jobs exist and none is chosen', async () => {
    const { file } = await jobsConfig('jobs-none', {});
    const result = await cli(ws, ['--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--all-jobs');
  });
});

describe('arguments and config', () => {
  it('exits 2 with a message naming the file and key for a bad config', async () => {
    const file = path.join(ws.root, 'bad.yaml');
    await writeFile(file, 'input_paths:\n  loras:\n    path: /x\n    type: LORA\napi:\n  timeout: soon\n');
    const result = await cli(ws, ['--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toContain('api.timeout');
    expect(result.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('exits 2 for bad arguments', async () => {
    for (const args of [['--frobnicate'], ['frobnicate'], ['--undo'], ['scan', '--loras-file', 'x.json'], ['organize', '--out', 'x'], ['scan', 'extra'], ['-j']]) {
      const result = await cli(ws, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/civitscraper: .+/);
      expect(result.stdout).toBe('');
    }
  });

  it('--help shows the commands, options and examples; COMMAND --help the command; --version the version', async () => {
    const help = await cli(ws, ['--help']);
    expect(help.code).toBe(0);
    for (const text of ['scan', 'organize [--undo [RUN]]', 'sync-krita', 'build', 'report', '--config FILE', '--job NAME', '--all-jobs', '--dry-run', '--force-refresh', '--debug', '--report FILE', '--quiet', '--json', '--version', 'Examples:', 'Exit codes:']) {
      expect(help.stdout).toContain(text);
    }
    const organize = await cli(ws, ['organize', '--help']);
    expect(organize.code).toBe(0);
    expect(organize.stdout).toMatch(/^Usage: civitscraper organize/);
    expect(organize.stdout).toContain('civitscraper organize --undo');
    const short = await cli(ws, ['-h']);
    expect(short.stdout).toBe(help.stdout);
    const version = await cli(ws, ['--version']);
    expect(version.code).toBe(0);
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(pkg.version);
    expect((await cli(ws, ['-v'])).stdout).toBe(version.stdout);
  });

  it('with no config anywhere, names the places it looked and points at the demo', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'cs-noconf-'));
    const result = await cli(ws, [], { cwd: empty, env: { HOME: empty } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(path.join(empty, 'civitscraper.yaml'));
    expect(result.stderr).toContain('npm run demo');
  });

  it('a --report FILE that cannot be written is an error', async () => {
    const { file } = await libraryCopy(ws, 'badreport', { inputs: ['embeddings'] });
    const blocker = path.join(ws.root, 'not-a-folder');
    await writeFile(blocker, '');
    const result = await cli(ws, ['-c', file, '-q', '--report', path.join(blocker, 'r.json')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot write the report');
  });
});

describe('logging', () => {
  it('console.simple: false prints the seed format (time - civitscraper - LEVEL - message)', async () => {
    const { file, dir } = await libraryCopy(ws, 'log-format', { inputs: ['embeddings'] });
    await writeConfig(file, {
      api: { base_url: ws.fake.apiBaseUrl, key: API_KEY },
      input_paths: { embeddings: { path: path.join(dir, 'Embeddings'), type: 'TextualInversion', patterns: ['*.pt', '*.safetensors'] } },
      scanner: { cache_dir: path.join(dir, '.cache') },
      logging: { console: { simple: false } },
    });
    const result = await cli(ws, ['-c', file]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - civitscraper - INFO - discover: /m);
  });

  it('console.level WARNING hides info; console.enabled false hides everything', async () => {
    const { file, dir } = await libraryCopy(ws, 'log-level', { inputs: ['embeddings'] });
    const base = {
      api: { base_url: ws.fake.apiBaseUrl, key: API_KEY },
      input_paths: { embeddings: { path: path.join(dir, 'Embeddings'), type: 'TextualInversion', patterns: ['*.pt', '*.safetensors'] } },
      scanner: { cache_dir: path.join(dir, '.cache') },
    };
    await writeConfig(file, { ...base, logging: { console: { level: 'WARNING', simple: true } } });
    expect((await cli(ws, ['-c', file])).stderr).toBe('');
    await writeConfig(file, { ...base, logging: { console: { enabled: false } } });
    const off = await cli(ws, ['-c', file, '--json']);
    expect(off.stderr).toBe('');
    expect(JSON.parse(off.stdout).exitCode).toBe(0);
  });

  it('logging.file: one file in directory/filename that every run appends to, rotated at max_size, backup_count kept, no API key', async () => {
    const { file, dir } = await libraryCopy(ws, 'log-file', { inputs: ['embeddings'] });
    const logDir = path.join(dir, 'logs');
    const configWith = (maxSize: number) =>
      writeConfig(file, {
        api: { base_url: ws.fake.apiBaseUrl, key: API_KEY },
        input_paths: { embeddings: { path: path.join(dir, 'Embeddings'), type: 'TextualInversion', patterns: ['*.pt', '*.safetensors'] } },
        scanner: { cache_dir: path.join(dir, '.cache') },
        logging: { file: { enabled: true, directory: logDir, filename: 'scraper.log', max_size: maxSize, backup_count: 2 } },
      });
    // Two runs, room enough: one file, both runs in it (not a new file per run, as the seed did).
    await configWith(1);
    expect((await cli(ws, ['-c', file, '-q'])).code).toBe(0);
    expect((await cli(ws, ['-c', file, '-q'])).code).toBe(0);
    expect(await readdir(logDir)).toEqual(['scraper.log']);
    const both = await readFile(path.join(logDir, 'scraper.log'), 'utf8');
    expect(both.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - civitscraper - INFO - civitscraper \d+\.\d+\.\d+ scan/gm)).toHaveLength(2);
    // --quiet is about the console: the file still gets info.
    expect(both).toContain('INFO - discover: ');
    // At ~1 KB, more runs with --debug rotate it, keeping two backups.
    await configWith(0.001);
    for (let run = 0; run < 4; run += 1) expect((await cli(ws, ['-c', file, '-q', '--debug'])).code).toBe(0);
    const names = (await readdir(logDir)).sort();
    expect(names).toEqual(['scraper.log', 'scraper.log.1', 'scraper.log.2']);
    for (const name of names) {
      const text = await readFile(path.join(logDir, name), 'utf8');
      expect(text).not.toContain(API_KEY);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(0.001 * 1024 * 1024 + 1024);
    }
    expect(await readFile(path.join(logDir, 'scraper.log.1'), 'utf8')).toContain(' - DEBUG - ');
    expect(existsSync(path.join(logDir, 'scraper.log.3'))).toBe(false);
  });
});
