/**
 * The cache lock around the commands that are not scans: `organize --undo` moves files, so it
 * waits for the run holding the cache and then refuses, as a scan does; `report` holds the lock
 * from its first job to its output. `--lock-wait SECONDS` sets the wait, as
 * CIVITSCRAPER_LOCK_WAIT does. In process (main), with a live `sleep` as the other run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { captureConsole, type CapturedConsole } from '../support/console.ts';
import { stringify } from 'yaml';
import { parseCliArgs } from '../../src/integration/cli/args.ts';
import { UsageError } from '../../src/integration/cli/exit.ts';
import { helpFor } from '../../src/integration/cli/help.ts';
import { main } from '../../src/integration/cli/main.ts';
import { applyPlan, planOrganization } from '../../src/integration/engine/organize/index.ts';
import { LOCK_FILE_NAME, LOCK_WAIT_ENV } from '../../src/integration/engine/state/index.ts';
import { buildLibrary, organization, output } from './helpers.ts';

let tmp: string;
let lib: string;
let out: string;
let cache: string;
let configFile: string;
let captured: CapturedConsole;
let holder: ChildProcess | undefined;
const envBefore = process.env[LOCK_WAIT_ENV];

beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'cs-cache-lock-'));
  lib = path.join(tmp, 'lib');
  out = path.join(tmp, 'out');
  cache = path.join(tmp, '.cache');
  configFile = path.join(tmp, 'civitscraper.yaml');
  writeFileSync(
    configFile,
    stringify({ api: { key: 'lock-test-key' }, input_paths: { loras: { path: lib, type: 'LORA' } }, scanner: { cache_dir: cache }, logging: { console: { simple: true } } }),
  );
  captured = captureConsole();
});
afterEach(() => {
  vi.restoreAllMocks();
  holder?.kill('SIGKILL');
  holder = undefined;
  if (envBefore === undefined) delete process.env[LOCK_WAIT_ENV];
  else process.env[LOCK_WAIT_ENV] = envBefore;
  rmSync(tmp, { recursive: true, force: true });
});

/** Another run holding the cache: a live process of this host, named in its lock. */
async function otherRunHolds(): Promise<ChildProcess> {
  const child = spawn('sleep', ['120'], { stdio: 'ignore' });
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  const lock = { pid: child.pid, hostname: hostname(), startedAt: Date.now(), token: 'other-run', job: 'other-scan' };
  writeFileSync(path.join(cache, LOCK_FILE_NAME), `${JSON.stringify(lock)}\n`);
  holder = child;
  return child;
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('organize --undo takes the cache lock', () => {
  it('refuses while another run holds the cache (CIVITSCRAPER_LOCK_WAIT or --lock-wait), waits for it to end, then undoes', async () => {
    const records = buildLibrary(lib, [{ rel: 'a.safetensors', companions: ['json'] }]);
    const plan = planOrganization(records, { organization: organization({ output_dir: out }), output: output() });
    const applied = await applyPlan(plan, { journalDir: path.join(cache, 'organize-journal') });
    expect(applied.counts.done).toBe(1);
    const moved = path.join(out, 'LORA', 'a.safetensors');
    const home = path.join(lib, 'a.safetensors');
    expect(existsSync(moved)).toBe(true);
    const other = await otherRunHolds();

    process.env[LOCK_WAIT_ENV] = '0';
    expect(await main(['organize', '--undo', '-c', configFile])).toBe(1);
    expect(captured.stderr).toMatch(/another civitscraper run \(pid \d+ on .*job "other-scan"\) still holds/);
    expect(existsSync(moved) && !existsSync(home)).toBe(true);

    delete process.env[LOCK_WAIT_ENV];
    captured.stderr = '';
    expect(await main(['organize', '--undo', '-c', configFile, '--lock-wait', '0'])).toBe(1);
    expect(captured.stderr).toMatch(/still holds/);
    expect(existsSync(moved) && !existsSync(home)).toBe(true);

    // With time to wait, it waits; when the other run is gone, its lock is taken over.
    captured.stderr = '';
    const undo = main(['organize', '--undo', '-c', configFile, '--lock-wait', '60']);
    await until(() => captured.stderr.includes('waiting'));
    expect(existsSync(moved)).toBe(true);
    other.kill('SIGKILL');
    expect(await undo).toBe(0);
    expect(captured.stderr).toMatch(/taking over the lock .*no longer running/);
    expect(existsSync(home) && !existsSync(moved)).toBe(true);
    // Released at the end.
    expect(existsSync(path.join(cache, LOCK_FILE_NAME))).toBe(false);
  });
});

describe('report holds the cache lock', () => {
  it('from its first job to its output, as one run', async () => {
    buildLibrary(lib, [{ rel: 'a.safetensors' }, { rel: 'sub/b.safetensors' }]);
    writeFileSync(
      configFile,
      stringify({
        api: { key: 'lock-test-key' },
        input_paths: { loras: { path: lib, type: 'LORA' } },
        jobs: { one: { type: 'scan-paths' }, two: { type: 'scan-paths' } },
        scanner: { cache_dir: cache },
        logging: { console: { simple: true } },
      }),
    );
    const lockFile = path.join(cache, LOCK_FILE_NAME);
    const seen: unknown[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      captured.stdout += String(chunk);
      seen.push(existsSync(lockFile) ? JSON.parse(readFileSync(lockFile, 'utf8')) : 'no lock');
      return true;
    });
    expect(await main(['report', '-c', configFile, '--all-jobs', '--unreadable', 'warn']), captured.stderr).toBe(0);
    expect(captured.stdout).toMatch(/files/i);
    expect(seen.length).toBeGreaterThan(0);
    for (const state of seen) expect(state).toMatchObject({ pid: process.pid, job: 'report' });
    expect(existsSync(lockFile)).toBe(false);

    // Another run holding the cache: refused as a scan is.
    await otherRunHolds();
    captured.stderr = '';
    expect(await main(['report', '-c', configFile, '--all-jobs', '--lock-wait', '0'])).toBe(1);
    expect(captured.stderr).toMatch(/report: another civitscraper run .*still holds/);
  });
});

describe('--lock-wait', () => {
  it('takes seconds (0: do not wait), for every command; --help says so', () => {
    expect(parseCliArgs(['--lock-wait', '2.5']).lockWaitSeconds).toBe(2.5);
    expect(parseCliArgs(['report', '--lock-wait=0']).lockWaitSeconds).toBe(0);
    expect(parseCliArgs(['report']).lockWaitSeconds).toBeUndefined();
    for (const bad of ['soon', '-1', '']) expect(() => parseCliArgs(['--lock-wait', bad])).toThrow(UsageError);
    expect(() => parseCliArgs(['--lock-wait', 'soon'])).toThrow(/--lock-wait takes the seconds/);
    expect(helpFor(undefined)).toMatch(/--lock-wait SECONDS/);
    expect(helpFor('organize')).toMatch(/--lock-wait SECONDS/);
  });
});
