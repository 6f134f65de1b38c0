/**
 * Progress: a live line per stage on a terminal (shown under a pseudo-terminal), plain lines
 * when piped. Unit tests of the renderer with a fake clock, then the real command.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/integration/engine/progress.ts';
import { createProgress } from '../../src/integration/cli/progress.ts';
import { createTerminal } from '../../src/integration/cli/terminal.ts';
import type { Logger } from '../../src/integration/engine/util/logger.ts';
import { cli, cliInPty, createCliWorkspace, libraryCopy, type CliWorkspace } from './helpers.ts';

const GIB = 1024 ** 3;

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = { isTTY, columns: 200, write: (chunk: string) => chunks.push(chunk) !== 0 } as unknown as NodeJS.WriteStream;
  return { stream, text: () => chunks.join('') };
}

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (message) => lines.push(`debug ${message}`),
    info: (message) => lines.push(`info ${message}`),
    warn: (message) => lines.push(`warn ${message}`),
    error: (message) => lines.push(`error ${message}`),
  };
}

/** Hashing 4 GiB in 4 files, 1 s per file. */
function hashEvents(): Array<[number, ProgressEvent]> {
  const base = { stage: 'hash' as const, total: 4, totalBytes: 4 * GIB };
  return [
    [0, { ...base, phase: 'start', done: 0, bytes: 0, of: 1504, unchanged: 1500, seeded: 0 }],
    [500, { ...base, phase: 'progress', done: 0, bytes: 0.5 * GIB }],
    [1000, { ...base, phase: 'progress', done: 1, bytes: GIB, item: '/models/a.safetensors' }],
    [2000, { ...base, phase: 'progress', done: 2, bytes: 2 * GIB, item: '/models/b.safetensors' }],
    [4000, { ...base, phase: 'progress', done: 4, bytes: 4 * GIB, item: '/models/d.safetensors' }],
    [4000, { ...base, phase: 'end', done: 4, bytes: 4 * GIB }],
  ];
}

describe('progress renderer', () => {
  it('on a TTY: one live line redrawn in place with counts, bytes, GB/s and ETA, kept as the stage summary', () => {
    const { stream, text } = fakeStream(true);
    const logger = recorder();
    const fileLogger = recorder();
    let now = 0;
    const progress = createProgress({ terminal: createTerminal(stream), logger, fileLogger, console: true, now: () => now });
    for (const [time, event] of hashEvents()) {
      now = time;
      progress.onProgress(event);
    }
    progress.close();
    const out = text();
    expect(out).toContain('\r\u001b[2Khash       1/4 files  1.0 GB/4.0 GB  1.00 GB/s  ETA 3.0 s  a.safetensors');
    expect(out).toContain('\r\u001b[2Khash       2/4 files  2.0 GB/4.0 GB  1.00 GB/s  ETA 2.0 s  b.safetensors');
    // The stage ends on its own line, with the average rate.
    expect(out).toMatch(/\r\u001b\[2Khash {7}4\/4 files {2}4\.0 GB\/4\.0 GB {2}1\.00 GB\/s {2}in 4\.0 s\n$/);
    // Only one line feed: everything else was drawn in place.
    expect(out.split('\n')).toHaveLength(2);
    // The summary goes to the log file; the console had the live line.
    expect(fileLogger.lines).toContain('info hash: done, 4/4 files, 4.0 GB in 4.0 s (1.00 GB/s)');
    expect(logger.lines.filter((line) => line.startsWith('info'))).toEqual([]);
    // One debug line per finished file, none for byte-only events.
    expect(logger.lines.filter((line) => line.startsWith('debug'))).toEqual([
      'debug hash: 1/4 /models/a.safetensors',
      'debug hash: 2/4 /models/b.safetensors',
      'debug hash: 4/4 /models/d.safetensors',
    ]);
  });

  it('log lines go above the live line, which is drawn again below them', () => {
    const { stream, text } = fakeStream(true);
    const terminal = createTerminal(stream);
    terminal.setLive('hash  1/2');
    terminal.line('warning: something');
    expect(text()).toBe('\r\u001b[2Khash  1/2\r\u001b[2Kwarning: something\nhash  1/2');
  });

  it('not on a TTY: plain lines at the start and end of each stage, no control characters', () => {
    const { stream, text } = fakeStream(false);
    const logger = recorder();
    let now = 0;
    const progress = createProgress({ terminal: createTerminal(stream), logger, fileLogger: recorder(), console: true, now: () => now });
    for (const [time, event] of hashEvents()) {
      now = time;
      progress.onProgress(event);
    }
    now = 4000;
    progress.onProgress({ stage: 'identify', phase: 'start', done: 0, total: 3 });
    now = 4500;
    progress.onProgress({ stage: 'identify', phase: 'end', done: 3, total: 3 });
    progress.close();
    expect(text()).toBe('');
    expect(logger.lines.filter((line) => line.startsWith('info'))).toEqual([
      'info hash: 4 of 1,504 files to read (4.0 GB); 1,500 unchanged',
      'info hash: done, 4/4 files, 4.0 GB in 4.0 s (1.00 GB/s)',
      'info identify: 3 hashes',
      'info identify: done, 3/3 hashes in 0.5 s',
    ]);
  });

  it('a long stage logs a progress line every 30 s when not on a TTY; an unfinished stage is reported as stopped', () => {
    const logger = recorder();
    let now = 0;
    const progress = createProgress({ terminal: createTerminal(fakeStream(false).stream), logger, fileLogger: recorder(), console: true, now: () => now });
    progress.onProgress({ stage: 'hash', phase: 'start', done: 0, total: 10, bytes: 0, totalBytes: 100 * GIB, of: 50_500, unchanged: 50_400, seeded: 90 });
    now = 31_000;
    progress.onProgress({ stage: 'hash', phase: 'progress', done: 3, total: 10, bytes: 31 * GIB, totalBytes: 100 * GIB });
    now = 40_000;
    progress.onProgress({ stage: 'hash', phase: 'progress', done: 4, total: 10, bytes: 40 * GIB, totalBytes: 100 * GIB });
    now = 41_000;
    progress.close();
    const info = logger.lines.filter((line) => line.startsWith('info'));
    expect(info).toEqual([
      "info hash: 10 of 50,500 files to read (100.0 GB); 50,400 unchanged, 90 from other tools' sidecars",
      'info hash: 3/10 files, 31.0 GB of 100.0 GB, 1.00 GB/s, ETA 1m09s',
      'info hash: stopped at 4/10 files, 40.0 GB of 100.0 GB after 41 s',
    ]);
  });

  it('--quiet (console off): nothing on the console, summaries still logged to the file', () => {
    const { stream, text } = fakeStream(true);
    const logger = recorder();
    let now = 0;
    const progress = createProgress({ terminal: createTerminal(stream), logger, fileLogger: recorder(), console: false, now: () => now });
    for (const [time, event] of hashEvents()) {
      now = time;
      progress.onProgress(event);
    }
    expect(text()).toBe('');
    expect(logger.lines).toContain('info hash: done, 4/4 files, 4.0 GB in 4.0 s (1.00 GB/s)');
  });
});

describe('progress of a real run', () => {
  let ws: CliWorkspace;
  beforeAll(async () => {
    ws = await createCliWorkspace('cs-cli-progress-');
  });
  afterAll(async () => {
    await ws.close();
  });

  it('piped: one plain line per stage from the engine\'s progress, no control characters', async () => {
    const { file } = await libraryCopy(ws, 'piped');
    const result = await cli(ws, ['-c', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^hash: done, (\d+)\/\1 files, [\d.]+ [KMG]?B in [\d.]+ s \([\d.]+ GB\/s\)$/m);
    expect(result.stderr).toMatch(/^identify: done, /m);
    expect(result.stderr).not.toMatch(/[\r\u001b]/);
    // The start line says what is really read, decided after the ledger's check: all of it in
    // a first run, on a rerun only what the ledger and the stamps do not know.
    const plan = (stderr: string) => {
      const start = /^hash: (\d+) of (\d+) files to read \([\d.]+ [KMG]?B\); (\d+) unchanged$/m.exec(stderr);
      const done = /^hash: done, (\d+)\/(\d+) files/m.exec(stderr);
      expect(start, stderr).not.toBeNull();
      return { toRead: Number(start?.[1]), found: Number(start?.[2]), unchanged: Number(start?.[3]), read: Number(done?.[1]) };
    };
    const first = plan(result.stderr);
    expect(first).toMatchObject({ unchanged: 0, toRead: first.found, read: first.found });
    const rerun = plan((await cli(ws, ['-c', file])).stderr);
    expect(rerun.found).toBe(first.found);
    expect(rerun.unchanged).toBeGreaterThan(0);
    expect(rerun.toRead + rerun.unchanged).toBe(rerun.found);
    expect(rerun.read).toBe(rerun.toRead);
  });

  const hasScript = (() => {
    try {
      execFileSync('script', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.runIf(hasScript)('under a pseudo-terminal: a live hash line with counts, bytes, GB/s and ETA, redrawn in place', async () => {
    const { file } = await libraryCopy(ws, 'pty');
    const result = await cliInPty(ws, ['-c', file]);
    expect(result.code).toBe(1);
    const out = result.stdout;
    // Drawn in place (carriage return + erase line), with the numbers a person wants to see.
    expect(out).toMatch(/\r\u001b\[2Khash +\d+\/\d+ files +[\d.]+ [KMG]?B\/[\d.]+ [KMG]?B +([\d.]+|-\.--) GB\/s +ETA /);
    // ...and left on screen as the stage's summary line.
    expect(out).toMatch(/\r\u001b\[2Khash +(\d+)\/\1 files +[\d.]+ [KMG]?B\/[\d.]+ [KMG]?B +[\d.]+ GB\/s +in [\d.]+ s\r?\n/);
    expect(out).toMatch(/\r\u001b\[2Kidentify +/);
    // Logs still reach the terminal; the API key never does.
    expect(out).toContain('discover: ');
    expect(out).not.toContain('cli-sentinel-key-42');
  });
});
