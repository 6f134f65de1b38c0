/**
 * One run at a time on one cache, end to end: two `civitscraper scan`s started together on one
 * library (the second waits for the first, then finds everything done: together they ask
 * CivitAI exactly what one cold and one warm run ask), a lock left by a killed run taken over,
 * a live one refused after the configured wait with exit 1 and a clear message, and two runs
 * of one process (the Astro integration's case) queued rather than deadlocked.
 *
 * The CLI tests run the compiled dist/ (`npm run compile` first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { LOCK_FILE_NAME } from '../../src/integration/engine/state/index.ts';
import { cli, createCliWorkspace, libraryCopy, startCli, treeDigest, type CliWorkspace } from '../cli/helpers.ts';
import { setupLibrary } from '../support/library.ts';

let ws: CliWorkspace;
/** Requests the fake received for one cold run, then one warm run, of a fresh copy. */
let reference = { cold: 0, warm: 0 };

/**
 * A proxy in front of the fake CivitAI that holds every request while `closed`: the first run
 * is kept busy (holding the lock) for as long as the test needs.
 */
interface Gate {
  url: string;
  seen: number;
  open(): void;
  close(): Promise<void>;
  firstRequest: Promise<void>;
}

async function startGate(target: string): Promise<Gate> {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  let markFirst!: () => void;
  const firstRequest = new Promise<void>((resolve) => (markFirst = resolve));
  const gate = { seen: 0 } as Gate;
  const server = http.createServer((request, response) => {
    gate.seen += 1;
    markFirst();
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      await opened;
      try {
        const headers = Object.fromEntries(
          Object.entries(request.headers).filter(([name]) => !['host', 'connection', 'content-length', 'accept-encoding'].includes(name)),
        ) as Record<string, string>;
        const upstream = await fetch(new URL(request.url ?? '/', target), {
          method: request.method,
          headers,
          ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
        });
        const body = Buffer.from(await upstream.arrayBuffer());
        const out: Record<string, string> = {};
        upstream.headers.forEach((value, name) => {
          if (!['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(name)) out[name] = value;
        });
        response.writeHead(upstream.status, out).end(body);
      } catch (error) {
        response.writeHead(502).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  gate.url = `http://127.0.0.1:${port}`;
  gate.open = release;
  gate.firstRequest = firstRequest;
  gate.close = () => new Promise((resolve) => server.close(() => resolve()));
  return gate;
}

async function copyFor(name: string, apiBaseUrl?: string) {
  const copy = await libraryCopy(ws, name);
  if (apiBaseUrl) {
    const config = parse(await readFile(copy.file, 'utf8')) as { api: Record<string, unknown> };
    config.api.base_url = apiBaseUrl;
    await writeFile(copy.file, stringify(config));
  }
  return { ...copy, cacheDir: path.join(copy.dir, '.cache') };
}

beforeAll(async () => {
  ws = await createCliWorkspace('cs-concurrent-');
  const copy = await copyFor('reference');
  let before = ws.fake.requests.length;
  const cold = await cli(ws, ['scan', '--config', copy.file]);
  expect(cold.code, cold.stderr).toBe(1); // the sample library has files that fail on purpose
  reference.cold = ws.fake.requests.length - before;
  before = ws.fake.requests.length;
  const warm = await cli(ws, ['scan', '--config', copy.file]);
  expect(warm.code, warm.stderr).toBe(1);
  reference.warm = ws.fake.requests.length - before;
  expect(reference.cold).toBeGreaterThan(reference.warm);
});
afterAll(async () => {
  await ws?.close();
});

describe('two civitscraper runs on one cache', () => {
  it('the second waits for the first, then finds its work done: requests = one cold run + one warm run', async () => {
    const gate = await startGate(ws.fake.url);
    try {
      const copy = await copyFor('concurrent', `${gate.url}/api/v1`);
      const before = ws.fake.requests.length;
      const first = startCli(ws, ['scan', '--config', copy.file]);
      // The first run is at its first CivitAI request (it holds the lock since it started).
      await gate.firstRequest;
      const second = startCli(ws, ['scan', '--config', copy.file]);
      const waiting = await second.waitFor(/another civitscraper run \(pid (\d+) on ([^,]+), since [^)]+\) holds (.*); waiting…/);
      expect(waiting, 'the second run says it waits').toBeDefined();
      expect(Number(waiting?.[1])).toBe(first.child.pid);
      expect(waiting?.[2]).toBe(hostname());
      expect(waiting?.[3]).toBe(copy.cacheDir);
      gate.open();
      const [a, b] = await Promise.all([first.exited, second.exited]);
      expect(a.code, a.stderr).toBe(1);
      expect(b.code, b.stderr).toBe(1);
      expect(b.stderr).toMatch(/the other run has finished/);
      const total = ws.fake.requests.length - before;
      console.info(`[state:concurrent] cold ${reference.cold} + warm ${reference.warm} requests; two concurrent runs: ${total}`);
      expect(total).toBe(reference.cold + reference.warm);
      expect(existsSync(path.join(copy.cacheDir, LOCK_FILE_NAME))).toBe(false);
    } finally {
      gate.open();
      await gate.close();
    }
  });

  it('a lock left by a run that was killed (its pid is gone) is taken over, with a line saying so', async () => {
    const copy = await copyFor('stale');
    const pid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    await mkdir(copy.cacheDir, { recursive: true });
    await writeFile(path.join(copy.cacheDir, LOCK_FILE_NAME), JSON.stringify({ pid, hostname: hostname(), startedAt: Date.now() - 3600_000, token: 'killed' }));
    const before = ws.fake.requests.length;
    const run = await cli(ws, ['scan', '--config', copy.file], { env: { CIVITSCRAPER_LOCK_WAIT: '0' } });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`taking over the lock .*${LOCK_FILE_NAME}: its holder \\(pid ${pid} on .*\\) is no longer running`));
    expect(ws.fake.requests.length - before).toBe(reference.cold);
    expect(existsSync(path.join(copy.cacheDir, LOCK_FILE_NAME))).toBe(false);
  });

  it('a live lock is waited for up to CIVITSCRAPER_LOCK_WAIT, then the run stops: exit 1, the holder named, nothing done', async () => {
    const copy = await copyFor('busy');
    await mkdir(copy.cacheDir, { recursive: true });
    const lockFile = path.join(copy.cacheDir, LOCK_FILE_NAME);
    // This test process is alive: its lock is a run in progress.
    await writeFile(lockFile, JSON.stringify({ pid: process.pid, hostname: hostname(), startedAt: Date.now(), token: 'live', job: 'other' }));
    const tree = await treeDigest(copy.dir, []);
    const before = ws.fake.requests.length;
    const run = await cli(ws, ['scan', '--config', copy.file], { env: { CIVITSCRAPER_LOCK_WAIT: '1' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`another civitscraper run \\(pid ${process.pid} on ${hostname()}, since [^)]*, job "other"\\) holds .*; waiting…`));
    expect(run.stderr).toMatch(new RegExp(`another civitscraper run \\(pid ${process.pid} on .*\\) still holds ${copy.cacheDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} after waiting 1 s; this run did nothing`));
    expect(run.stderr).toContain(lockFile);
    expect(ws.fake.requests.length - before, 'no request').toBe(0);
    expect(await treeDigest(copy.dir, []), 'nothing written').toEqual(tree);
  });
});

describe('two runs of one process on one cache (the Astro integration)', () => {
  it('queue one after the other instead of deadlocking; requests = one cold run + one warm run', async () => {
    const setup = await setupLibrary({ root: ws.root, library: ws.library, fake: ws.fake, close: async () => {} }, 'in-process');
    const logs: string[] = [];
    const logger = { debug() {}, info: (message: string) => logs.push(message), warn: (message: string) => logs.push(message), error() {} };
    const before = ws.fake.requests.length;
    const [a, b] = await Promise.all([
      runScanJob({ config: setup.config, job: setup.job, jobName: setup.name }),
      runScanJob({ config: setup.config, job: setup.job, jobName: setup.name, logger }),
    ]);
    expect(logs.join('\n')).toMatch(/another run of this process uses .*; waiting for it to finish/);
    expect(a.report.hash.files).toBeGreaterThan(0);
    expect(b.report.hash.files, 'the second run reads nothing').toBe(0);
    expect(b.records.length).toBe(a.records.length);
    expect(ws.fake.requests.length - before).toBe(reference.cold + reference.warm);
    expect(existsSync(path.join(path.resolve(setup.config.scanner.cache_dir), LOCK_FILE_NAME))).toBe(false);
  });
});
