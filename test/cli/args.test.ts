/** Parsing the command line, and the rotating log file, in process. */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../src/integration/cli/args.ts';
import { UsageError } from '../../src/integration/cli/exit.ts';
import { RotatingFile } from '../../src/integration/cli/logging.ts';

describe('parseCliArgs', () => {
  it('defaults to scan; reads every seed flag, short and long', () => {
    expect(parseCliArgs([])).toMatchObject({ command: 'scan', explicitCommand: false, allJobs: false, dryRun: false, json: false });
    expect(parseCliArgs(['-c', 'a.yaml', '-j', 'loras', '--all-jobs', '--dry-run', '--force-refresh', '--debug', '-q', '--json', '--report', 'r.json'])).toMatchObject({
      command: 'scan',
      config: 'a.yaml',
      job: 'loras',
      allJobs: true,
      dryRun: true,
      forceRefresh: true,
      debug: true,
      quiet: true,
      json: true,
      report: 'r.json',
    });
    expect(parseCliArgs(['--config=b.yaml', '--job=x'])).toMatchObject({ config: 'b.yaml', job: 'x' });
  });

  it('commands and their own options', () => {
    expect(parseCliArgs(['organize', '--dry-run'])).toMatchObject({ command: 'organize', explicitCommand: true, dryRun: true });
    expect(parseCliArgs(['organize', '--undo']).undo).toEqual({});
    expect(parseCliArgs(['organize', '--undo', 'RUN1']).undo).toEqual({ runId: 'RUN1' });
    expect(parseCliArgs(['organize', '--undo=RUN2']).undo).toEqual({ runId: 'RUN2' });
    expect(parseCliArgs(['--undo', 'RUN3', 'organize']).undo).toEqual({ runId: 'RUN3' });
    expect(parseCliArgs(['sync-krita', '--loras-file', 'l.json', '--force'])).toMatchObject({ command: 'sync-krita', lorasFile: 'l.json', force: true });
    expect(parseCliArgs(['build', '--out', 'dist2'])).toMatchObject({ command: 'build', outDir: 'dist2' });
    expect(parseCliArgs(['report', '--json'])).toMatchObject({ command: 'report', json: true });
    expect(parseCliArgs(['organize', '--help'])).toMatchObject({ command: 'organize', help: true });
  });

  it('refuses what it does not understand, with a message that says what', () => {
    const refuse = (args: string[], message: RegExp) => {
      expect(() => parseCliArgs(args)).toThrow(UsageError);
      expect(() => parseCliArgs(args)).toThrow(message);
    };
    refuse(['--frobnicate'], /frobnicate/);
    refuse(['frobnicate'], /Unknown command "frobnicate".*scan, organize, sync-krita, build, report/);
    refuse(['--undo'], /--undo belongs to `civitscraper organize`/);
    refuse(['report', '--loras-file', 'x'], /--loras-file belongs to `civitscraper sync-krita`/);
    refuse(['scan', 'x'], /Unexpected argument: x/);
    refuse(['organize', 'x'], /Unexpected argument: x/);
    refuse(['organize', '--undo', 'a', 'b'], /one run id/);
    refuse(['-c'], /^option --config needs a value/);
    refuse(['--report', ''], /--report needs a value/);
  });

  it('names a mistyped flag and the closest real one, never parseArgs\' own text', () => {
    const message = (args: string[]) => {
      try {
        parseCliArgs(args);
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    };
    expect(message(['--dryrun'])).toBe('unknown option --dryrun, did you mean --dry-run? (civitscraper --help lists the options)');
    expect(message(['organize', '--lsit'])).toMatch(/^unknown option --lsit, did you mean --list\?/);
    expect(message(['--frobnicate'])).toBe('unknown option --frobnicate (civitscraper --help lists the options)');
    expect(message(['--config'])).toBe('option --config needs a value (civitscraper --help lists the options)');
    for (const args of [['--dryrun'], ['-z'], ['--config']]) expect(message(args)).not.toMatch(/positional argument/);
  });
});

describe('RotatingFile', () => {
  it('appends to one file, rotates by size into .1 … .N and drops the oldest', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cs-rotate-'));
    const file = path.join(dir, 'logs', 'x.log');
    const log = new RotatingFile(file, 100, 2);
    for (let index = 0; index < 10; index += 1) log.write(`line ${index} ${'.'.repeat(30)}`);
    log.close();
    expect((await readdir(path.join(dir, 'logs'))).sort()).toEqual(['x.log', 'x.log.1', 'x.log.2']);
    // Newest in x.log, older ones in .1 and .2, the rest gone; no file over the limit.
    expect(await readFile(file, 'utf8')).toContain('line 9');
    expect(await readFile(`${file}.1`, 'utf8')).toContain('line 7');
    expect(await readFile(`${file}.2`, 'utf8')).toContain('line 5');
    for (const name of ['x.log', 'x.log.1', 'x.log.2']) expect((await readFile(path.join(dir, 'logs', name))).length).toBeLessThanOrEqual(100);
    // A new writer (the next run) appends to the same file.
    const again = new RotatingFile(file, 100, 2);
    again.write('next run');
    again.close();
    expect(await readFile(file, 'utf8')).toMatch(/line 9[^]*next run|next run/);
  });

  it('backup_count 0 truncates instead of keeping backups', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cs-rotate0-'));
    const file = path.join(dir, 'y.log');
    const log = new RotatingFile(file, 50, 0);
    for (let index = 0; index < 5; index += 1) log.write(`line ${index} ${'.'.repeat(20)}`);
    log.close();
    expect(await readdir(dir)).toEqual(['y.log']);
    expect(await readFile(file, 'utf8')).toContain('line 4');
  });
});
