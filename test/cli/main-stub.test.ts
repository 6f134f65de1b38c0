/**
 * The CLI's side of progress and Ctrl-C, in process, with the engine replaced by a stub that
 * hashes "files" one event at a time and stops when its AbortSignal fires: what the command
 * does with the events, the signal and the partial report, whatever the engine's speed.
 * (`--no-site`: the site step after the jobs has tests of its own.)
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { captureConsole, type CapturedConsole } from '../support/console.ts';
import { stringify } from 'yaml';
import type { ScanJobOptions, ScanJobResult } from '../../src/integration/engine/run.ts';
import { createReport } from '../../src/integration/engine/report.ts';

const calls: ScanJobOptions[] = [];
let onFileHashed: ((done: number) => void) | undefined;

vi.mock('../../src/integration/engine/run.ts', () => ({
  async runScanJob(options: ScanJobOptions): Promise<ScanJobResult> {
    calls.push(options);
    const report = createReport(options.jobName, options.dryRun ?? false);
    const total = 5;
    report.files.found = total;
    options.onProgress?.({ stage: 'hash', phase: 'start', done: 0, total, bytes: 0, totalBytes: total * 1000 });
    for (let done = 1; done <= total; done += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      if (options.signal?.aborted) break;
      report.hash.files = done;
      report.hash.bytes = done * 1000;
      options.onProgress?.({ stage: 'hash', phase: 'progress', done, total, bytes: done * 1000, totalBytes: total * 1000, item: `/lib/file${done}.safetensors` });
      onFileHashed?.(done);
    }
    if (!options.signal?.aborted) options.onProgress?.({ stage: 'hash', phase: 'end', done: total, total, bytes: total * 1000, totalBytes: total * 1000 });
    report.finish();
    return { records: [], report };
  },
}));

const { main } = await import('../../src/integration/cli/main.ts');

let dir: string;
let output: CapturedConsole;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-cli-stub-'));
  calls.length = 0;
  onFileHashed = undefined;
  output = captureConsole();
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function config(extra: Record<string, unknown> = {}): Promise<string> {
  const file = path.join(dir, 'civitscraper.yaml');
  await writeFile(
    file,
    stringify({
      api: { key: 'stub-secret-key-99' },
      input_paths: { loras: { path: dir, type: 'LORA' } },
      scanner: { cache_dir: path.join(dir, '.cache') },
      logging: { console: { simple: true } },
      ...extra,
    }),
  );
  return file;
}

describe('the CLI with a stub engine', () => {
  it('passes an AbortSignal and a progress listener; SIGINT aborts, the partial report is written, exit 130', async () => {
    const file = await config({ jobs: { a: { type: 'scan-paths' }, b: { type: 'scan-paths' } } });
    onFileHashed = (done) => {
      if (done === 2) process.emit('SIGINT', 'SIGINT');
    };
    const reportFile = path.join(dir, 'report.json');
    const code = await main(['-c', file, '--all-jobs', '--no-site', '--debug', '--report', reportFile]);
    expect(code).toBe(130);
    // The first job stopped after two files; the second never started.
    expect(calls).toHaveLength(1);
    expect(calls[0]?.signal?.aborted).toBe(true);
    const report = JSON.parse(await readFile(reportFile, 'utf8'));
    expect(report).toMatchObject({ command: 'scan', exitCode: 130, interrupted: true, notRun: ['b'] });
    expect(report.jobs[0]).toMatchObject({ job: 'a', interrupted: true, hash: { files: 2 } });
    expect(output.stderr).toContain('[a] hash: 1/5 /lib/file1.safetensors');
    expect(output.stderr).toContain('[a] hash: 2/5 /lib/file2.safetensors');
    expect(output.stderr).toContain('[a] hash: stopped at 2/5 files');
    expect(output.stderr).toContain('Ctrl-C: stopping');
    expect(output.stderr).not.toContain('stub-secret-key-99');
    // The handlers are gone once main returns.
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('without Ctrl-C: every job runs in order with its own label, exit 0', async () => {
    const file = await config({ jobs: { a: { type: 'scan-paths' }, b: { type: 'scan-paths' } } });
    const code = await main(['-c', file, '--all-jobs', '--no-site', '--json']);
    expect(code).toBe(0);
    expect(calls.map((call) => call.jobName)).toEqual(['a', 'b']);
    expect(output.stderr).toContain('[a] hash: done, 5/5 files');
    expect(output.stderr).toContain('[b] hash: done, 5/5 files');
    const json = JSON.parse(output.stdout);
    expect(json.jobs.map((job: { job: string }) => job.job)).toEqual(['a', 'b']);
  });

  it('--dry-run and --force-refresh reach the engine; config dry_run too', async () => {
    const file = await config();
    expect(await main(['-c', file, '--dry-run', '--force-refresh', '-q'])).toBe(0);
    expect(calls[0]).toMatchObject({ dryRun: true, forceRefresh: true });
    await config({ dry_run: true });
    expect(await main(['-c', file, '--no-site', '-q'])).toBe(0);
    expect(calls[1]).toMatchObject({ dryRun: true });
    expect(calls[1]?.forceRefresh).toBeUndefined();
  });
});
