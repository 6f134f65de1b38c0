/**
 * Image downloads are paced by how many run at once (AIMD on 429/503, Retry-After honoured),
 * not by the API's per-minute budget: at `api.batch.rate_limit: 1` a run that has spent its one
 * API request still downloads all 40 previews, and nothing waits for the budget's next token
 * (a wait that long fails the test at once instead of stalling it). A CDN that answers 429 with
 * Retry-After or 503 gets fewer downloads at once; they succeed later, and nothing is lost.
 * A slow CDN gets as many downloads at once as the HTTP layer allows it, never more.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { writeCdnLibrary, type CdnLibrary } from '../../bench/cdn-library.ts';
import { startFakeCivitai, type FakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { createCivitaiClient, type ResponseStore } from '../../src/integration/engine/civitai/client.ts';
import { AdaptiveConcurrency } from '../../src/integration/engine/civitai/flow-control.ts';
import { DOWNLOAD_CONCURRENCY } from '../../src/integration/engine/civitai/http.ts';
import { parseConfig, selectJobs, type ScanJob } from '../../src/integration/engine/config/index.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';

const MODELS = 20;
const PREVIEWS = 2;
/** Longer than any back-off here, far shorter than the minute a token of a 1/min budget takes. */
const BUDGET_WAIT_MS = 10_000;

let root: string;
let library: CdnLibrary;
let fake: FakeCivitai;
/** The API answers kept between runs (the state store's HTTP cache, in memory). */
const answers = new Map<string, { status: number; body: string }>();
const store: ResponseStore = { get: (key) => answers.get(key), set: (key, value) => void answers.set(key, value) };
/** Every wait the HTTP layer asked for. */
const waits: number[] = [];
const sleep = (ms: number): Promise<void> => {
  waits.push(ms);
  if (ms >= BUDGET_WAIT_MS) return Promise.reject(new Error(`asked to wait ${Math.round(ms)} ms`));
  return delay(ms);
};

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cs-cdn-pacing-'));
  library = await writeCdnLibrary(root, { models: MODELS, previews: PREVIEWS });
  fake = await startFakeCivitai({ fixturesDir: library.fixturesDir, bindings: library.bindings });
});
afterAll(async () => {
  await fake?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

function setup(rateLimit: number, save: boolean) {
  const text = stringify({
    api: { base_url: fake.apiBaseUrl, max_retries: 3, batch: { rate_limit: rateLimit, retry_delay: 1 } },
    input_paths: { loras: { path: library.libraryDir, type: 'LORA' } },
    scanner: { cache_dir: path.join(root, '.cache') },
    // Every run looks every file up (from the kept answers), so each one decides its previews anew.
    jobs: { main: { type: 'scan-paths', skip_existing: false, output: { images: { save, max_count: PREVIEWS, width: 96 } } } },
  });
  const { config } = parseConfig(text, path.join(root, 'civitscraper.yaml'));
  const [selected] = selectJobs(config, {});
  const client = createCivitaiClient(config.api, { sleep, cache: { store, maxAgeSeconds: 86_400, bypass: false } });
  const run = () => runScanJob({ config, job: selected?.job as ScanJob, jobName: 'main', client });
  return { config, client, run };
}

const since = (start: number) => fake.requests.slice(start);
const isCdn = (request: { path: string }) => request.path.startsWith('/cdn/');

describe('image downloads', () => {
  it('are not paced by api.batch.rate_limit: one API request a minute, all 40 previews in one run', async () => {
    // A first run without previews keeps the API's answers; without the by-hash ones, the next
    // run sends exactly one API request (the batch lookup) and takes the budget's only token.
    const first = await setup(1_000_000, false).run();
    expect(first.report.api.identified).toBe(MODELS);
    for (const key of [...answers.keys()]) if (key.startsWith('version-by-sha256 ')) answers.delete(key);

    const { client, run } = setup(1, true);
    const start = fake.requests.length;
    waits.length = 0;
    const result = await run();
    const requests = since(start);
    expect(requests.filter((request) => !isCdn(request)).map((request) => `${request.method} ${request.path}`)).toEqual(['POST /api/v1/model-versions/by-hash']);
    expect(requests.filter(isCdn)).toHaveLength(MODELS * PREVIEWS);
    expect(requests.filter(isCdn).every((request) => request.status === 200)).toBe(true);
    expect(result.report.images.downloaded).toBe(MODELS * PREVIEWS);
    expect(result.report.images.failed).toBe(0);
    for (const record of result.records) {
      expect(record.images).toHaveLength(PREVIEWS);
      for (const image of record.images) expect((await stat(image.path)).size).toBeGreaterThan(0);
    }
    // Nothing waited for the per-minute budget (its next token is a minute away).
    expect(waits.filter((ms) => ms >= 1000)).toEqual([]);

    // The budget was really spent: the next API request would wait for its minute.
    const failure = await client.getModel(1).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(Math.max(...waits)).toBeGreaterThanOrEqual(BUDGET_WAIT_MS);
  });

  it('back off on 429 with Retry-After and on 503, then succeed; nothing is lost or overwritten', async () => {
    const { run } = setup(1, true);
    const before = await run();
    expect(before.report.images.downloaded).toBe(0);
    const records = [...before.records].sort((a, b) => a.file.path.localeCompare(b.file.path));
    // Five models lose their previews; the CDN is busy when the next run fetches them again.
    const lost = records.slice(0, 5).flatMap((record) => record.images.map((image) => image.path));
    const kept = records.slice(5).flatMap((record) => record.images.map((image) => image.path));
    const keptBefore = await Promise.all(kept.map(async (file) => ({ file, mtime: (await stat(file)).mtimeMs, bytes: await readFile(file) })));
    const sidecars = records.map((record) => path.join(path.dirname(record.file.path), `${record.file.stem}.json`));
    const sidecarsBefore = new Map(await Promise.all(sidecars.map(async (file) => [file, civitaiPart(await readFile(file, 'utf8'))] as const)));
    for (const part of sidecarsBefore.values()) expect(part).toMatchObject({ id: expect.any(Number), images: [expect.any(Array), expect.any(Array)] });
    await Promise.all(lost.map((file) => rm(file)));

    const faults = ['429', '503-html', '429', '429', '503-html', '429'] as const;
    fake.setFaults({ paths: '/cdn/', failNext: [...faults], retryAfter: 1 });
    const start = fake.requests.length;
    waits.length = 0;
    let result: Awaited<ReturnType<typeof run>>;
    try {
      result = await run();
    } finally {
      fake.setFaults({});
    }
    const cdn = since(start).filter(isCdn);
    expect(cdn.filter((request) => request.fault !== undefined)).toHaveLength(faults.length);
    expect(cdn.filter((request) => request.status === 200)).toHaveLength(lost.length);
    // Retry-After honoured: one-second waits, nothing near the budget's minute.
    expect(waits.filter((ms) => ms === 1000).length).toBeGreaterThanOrEqual(4);
    expect(result.report.images.downloaded).toBe(lost.length);
    expect(result.report.images.failed).toBe(0);
    expect(result.report.api.notFound).toBe(0);
    expect(result.records.every((record) => record.images.length === PREVIEWS)).toBe(true);
    for (const file of lost) expect((await stat(file)).size).toBeGreaterThan(0);
    for (const { file, mtime, bytes } of keptBefore) {
      expect((await stat(file)).mtimeMs).toBe(mtime);
      expect(await readFile(file)).toEqual(bytes);
    }
    for (const [sidecar, part] of sidecarsBefore) expect(civitaiPart(await readFile(sidecar, 'utf8'))).toEqual(part);
  });

  it('keep every download slot of the CDN busy, and never more than that many at once', async () => {
    const { run } = setup(1_000_000, true);
    const before = await run();
    const previews = before.records.flatMap((record) => record.images.map((image) => image.path));
    expect(previews).toHaveLength(MODELS * PREVIEWS);
    await Promise.all(previews.map((file) => rm(file)));

    // Each preview takes the CDN a while, so downloads asked for together overlap there.
    fake.setFaults({ paths: '/cdn/', latencyMs: 150 });
    const start = fake.requests.length;
    let peak = 0;
    const requests = fake.requests;
    const push = requests.push;
    requests.push = function counted(...items) {
      const length = push.apply(this, items);
      // Answered ones have their status; the rest are in flight at the CDN right now.
      peak = Math.max(peak, requests.slice(start).filter((request) => isCdn(request) && request.status === undefined).length);
      return length;
    };
    let result: Awaited<ReturnType<typeof run>>;
    try {
      result = await run();
    } finally {
      requests.push = push;
      fake.setFaults({});
    }
    expect(result.report.images.downloaded).toBe(MODELS * PREVIEWS);
    expect(result.report.images.failed).toBe(0);
    // Not one model's previews after another, `max_concurrent` (4) models at once: as many as
    // the HTTP layer allows one host, which is also the most it ever lets through.
    expect(peak).toBe(DOWNLOAD_CONCURRENCY);
    for (const file of previews) expect((await stat(file)).size).toBeGreaterThan(0);
  });
});

/** What a sidecar says of the model and its previews (not when it was checked). */
function civitaiPart(text: string) {
  const body = JSON.parse(text) as { id?: number; modelId?: number; civitscraper?: { incomplete?: boolean; images?: { url: string; file: string }[] } };
  const own = body.civitscraper;
  return { id: body.id, modelId: body.modelId, incomplete: own?.incomplete, images: own?.images?.map((image) => [image.url, image.file]) };
}

describe('AdaptiveConcurrency', () => {
  it('halves the downloads at once on a throttle, holds back for Retry-After, and climbs back', async () => {
    const slept: number[] = [];
    let now = 0;
    const limiter = new AdaptiveConcurrency(8, async (ms) => {
      slept.push(ms);
      now += ms;
    }, () => now);
    let active = 0;
    const gates: (() => void)[] = [];
    const task = () =>
      limiter.run(async () => {
        active += 1;
        await new Promise<void>((resolve) => gates.push(resolve));
        active -= 1;
      });
    const settle = () => new Promise((resolve) => setImmediate(resolve));

    const first = Array.from({ length: 12 }, task);
    await settle();
    expect(active).toBe(8);
    limiter.onThrottled();
    limiter.onThrottled(2500);
    expect(limiter.limit).toBe(2);
    // The eight finish: two of the four waiting start; a newcomer first waits out the pause.
    for (const open of gates.splice(0)) open();
    await settle();
    expect(active).toBe(2);
    const late = task();
    await settle();
    expect(slept).toEqual([2500]);
    while (gates.length > 0) {
      for (const open of gates.splice(0)) open();
      await settle();
      expect(active).toBeLessThanOrEqual(limiter.limit);
    }
    await Promise.all([...first, late]);
    expect(limiter.lowest).toBe(2);
    // A calm host gets its full concurrency back, one step per round of successes.
    for (let i = 0; i < 40; i += 1) limiter.onSuccess();
    expect(limiter.limit).toBe(8);
  });
});
