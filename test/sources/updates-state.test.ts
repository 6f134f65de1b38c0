/**
 * updates.json and what may send the update check to CivitAI: a damaged file is moved aside
 * (never written over: it holds the --ignore list), by the scan under its lock and by the
 * check and `--ignore` before they write; `sources.civitai.enabled: false` keeps the check off
 * CivitAI, with the last answers and their age. In process, against the fake CivitAI with its
 * recorded fixtures (DreamShaper, model 4384); cheap.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { captureConsole } from '../support/console.ts';
import { stringify } from 'yaml';
import { startFakeCivitai, type FakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { formatAge, answersLine } from '../../src/integration/cli/commands/updates.ts';
import type { Config } from '../../src/integration/engine/config/index.ts';
import type { RunContext } from '../../src/integration/engine/run.ts';
import { annotateUpdatesWhenRead } from '../../src/integration/engine/stages/updates.ts';
import { checkUpdates } from '../../src/integration/engine/updates/check.ts';
import { readUpdateState, UpdateStateDamagedError, updatesPath, writeUpdateState } from '../../src/integration/engine/updates/state.ts';
import type { Logger } from '../../src/integration/engine/util/logger.ts';
import { parse } from '../config/helpers.ts';
import { makeRecord } from '../organize/helpers.ts';

/** A rename that fails (a folder where the user may not rename: chmod does not stop root). */
const renames = vi.hoisted(() => ({ fail: false }));
vi.mock('node:fs/promises', async (original) => {
  const fs = await original<typeof import('node:fs/promises')>();
  return {
    ...fs,
    rename: (from: string, to: string) =>
      renames.fail && path.basename(from) === 'updates.json' ? Promise.reject(Object.assign(new Error(`EPERM: operation not permitted, rename '${from}'`), { code: 'EPERM' })) : fs.rename(from, to),
  };
});

const MODEL = 4384;
const HOUR = 3_600_000;
let fake: FakeCivitai;
let dir: string;
let cache: string;

beforeAll(async () => {
  fake = await startFakeCivitai();
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-updates-state-'));
  cache = path.join(dir, '.cache');
  await mkdir(cache, { recursive: true });
  fake.requests.length = 0;
});
afterEach(async () => {
  renames.fail = false;
  await rm(dir, { recursive: true, force: true });
});

function capture(): Logger & { warnings: string[]; text(): string } {
  const warnings: string[] = [];
  return { warnings, text: () => warnings.join('\n'), debug() {}, info() {}, warn: (message) => warnings.push(message), error: (message) => warnings.push(message) };
}

function config(sources: Record<string, unknown> = {}): Config {
  return parse(
    stringify({
      api: { base_url: fake.apiBaseUrl, key: 'state-test-key', max_retries: 0 },
      input_paths: { loras: { path: path.join(dir, 'lib'), type: 'LORA' } },
      scanner: { cache_dir: cache },
      sources,
    }),
  ).config;
}

/** One identified DreamShaper file (version 109123), as the scan leaves it. */
const records = () => [makeRecord({ path: path.join(dir, 'lib', 'dreamshaper.safetensors'), modelId: MODEL, versionId: 109123, modelName: 'DreamShaper', type: 'Checkpoint' })];

const asideFiles = async () => (await readdir(cache)).filter((name) => name.startsWith('updates.json.damaged-'));

describe('a damaged updates.json', () => {
  const DAMAGED = '{"format":1,"ignore":[1967584, 2011223],"models":{ truncated';

  it('the check moves it aside before it saves its answers: the ignored versions stay on disk, the warning names the copy', async () => {
    await writeFile(updatesPath(cache), DAMAGED);
    const logger = capture();
    const report = await checkUpdates({ config: config(), records: records(), network: 'online', logger, forceRefresh: true });
    expect(report.models.network).toBe(1);
    const aside = await asideFiles();
    expect(aside).toHaveLength(1);
    expect(await readFile(path.join(cache, aside[0] as string), 'utf8')).toBe(DAMAGED);
    expect(logger.text()).toContain(path.join(cache, aside[0] as string));
    expect(logger.text()).toMatch(/ignore them again/);
    // The new file holds this check's answer.
    expect(Object.keys((await readUpdateState(cache)).models)).toEqual([String(MODEL)]);
  });

  it('a scan moves it aside under its lock (a dry run leaves it, warning once per process)', async () => {
    await writeFile(updatesPath(cache), DAMAGED);
    const logger = capture();
    const ctx = (dryRun: boolean) => ({ config: config(), records: [], log: logger, dryRun }) as unknown as RunContext;
    await annotateUpdatesWhenRead(ctx(true));
    await annotateUpdatesWhenRead(ctx(true));
    expect(await readFile(updatesPath(cache), 'utf8')).toBe(DAMAGED);
    expect(logger.warnings.filter((warning) => warning.includes('left as it is'))).toHaveLength(1);
    await annotateUpdatesWhenRead(ctx(false));
    expect(existsSync(updatesPath(cache))).toBe(false);
    const aside = await asideFiles();
    expect(aside).toHaveLength(1);
    expect(await readFile(path.join(cache, aside[0] as string), 'utf8')).toBe(DAMAGED);
  });

  it('one that cannot be moved aside is not written over: the writer refuses, a reader goes on', async () => {
    await writeFile(updatesPath(cache), DAMAGED);
    renames.fail = true;
    await expect(readUpdateState(cache, capture(), { damaged: 'before-write' })).rejects.toBeInstanceOf(UpdateStateDamagedError);
    const logger = capture();
    expect(await readUpdateState(cache, logger, { damaged: 'set-aside' })).toEqual({ format: 1, ignore: [], models: {} });
    expect(logger.text()).toMatch(/could not be moved aside/);
    expect(await readFile(updatesPath(cache), 'utf8')).toBe(DAMAGED);
  });

  it('a second damaged file never replaces the first copy', async () => {
    const at = Date.parse('2026-12-01T10:00:00Z');
    await writeFile(updatesPath(cache), 'first');
    await readUpdateState(cache, capture(), { damaged: 'set-aside', now: at });
    await writeFile(updatesPath(cache), 'second');
    await readUpdateState(cache, capture(), { damaged: 'set-aside', now: at });
    const aside = (await asideFiles()).sort();
    expect(aside).toHaveLength(2);
    expect(await Promise.all(aside.map((name) => readFile(path.join(cache, name), 'utf8')))).toEqual(['first', 'second']);
  });

  it('`civitscraper updates --ignore` on a damaged file moves it aside and keeps the new list', async () => {
    await writeFile(updatesPath(cache), '{"format":1,"ignore":[5,');
    const file = path.join(dir, 'civitscraper.yaml');
    await writeFile(file, stringify({ api: { base_url: fake.apiBaseUrl, key: 'state-test-key' }, input_paths: { loras: { path: path.join(dir, 'lib'), type: 'LORA' } }, scanner: { cache_dir: cache }, logging: { console: { simple: true } } }));
    const output = captureConsole();
    try {
      const { main } = await import('../../src/integration/cli/main.ts');
      expect(await main(['updates', '-c', file, '--ignore', '1967584'])).toBe(0);
    } finally {
      vi.restoreAllMocks();
    }
    const aside = await asideFiles();
    expect(aside).toHaveLength(1);
    expect(await readFile(path.join(cache, aside[0] as string), 'utf8')).toBe('{"format":1,"ignore":[5,');
    expect(output.stderr).toContain(aside[0]);
    expect((await readUpdateState(cache)).ignore).toEqual([1967584]);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('sources.civitai.enabled: false', () => {
  it('the check sends nothing and uses the last stored answers, saying why and how old they are', async () => {
    const fetchedAt = new Date(Date.now() - 3 * HOUR).toISOString();
    const newer = { id: 999_001, name: 'v9', baseModel: 'SD 1.5', publishedAt: '2026-09-01T00:00:00.000Z', status: 'Published', availability: 'Public' };
    await writeUpdateState(cache, { format: 1, ignore: [], models: { [String(MODEL)]: { fetchedAt, versions: [newer] } } });

    const report = await checkUpdates({ config: config({ civitai: { enabled: false } }), records: records(), network: 'online', logger: capture(), forceRefresh: true });
    expect(fake.requests).toHaveLength(0);
    expect(report.requests).toBe(0);
    expect(report.notAsked).toEqual([{ source: 'civitai', models: 1, reason: 'sources.civitai.enabled is false' }]);
    expect(report.models).toMatchObject({ total: 1, network: 0, cache: 0, snapshot: 1, oldestAnswerAt: fetchedAt });
    expect(report.entries.map((entry) => [entry.modelId, entry.answer.from, entry.newer.map((item) => item.versionId)])).toEqual([[MODEL, 'snapshot', [999_001]]]);
    const line = answersLine(report, Date.now());
    expect(line).toContain('sources.civitai.enabled is false: nothing was sent');
    expect(line).toContain(`the oldest answer is ${formatAge(fetchedAt, Date.now())}`);
    expect(line).toMatch(/3 h old/);
    // The stored answers are left as they were.
    expect((await readUpdateState(cache)).models[String(MODEL)]?.fetchedAt).toBe(fetchedAt);

    // The same check with CivitAI on asks it: the test would see a request.
    const online = await checkUpdates({ config: config(), records: records(), network: 'online', logger: capture(), forceRefresh: true });
    expect(online.notAsked).toBeUndefined();
    expect(fake.requests.filter((request) => request.path.startsWith('/api/v1/models')).length).toBeGreaterThan(0);
  });
});
