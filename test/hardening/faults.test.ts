/**
 * Fault suite: the whole pipeline (discover → hash → identify → parents → previews → sidecars)
 * against the fake CivitAI with each fault alone and all together. For every scenario:
 *
 * - fresh library under faults: the run finishes (never throws), reports what failed (errors at
 *   stage `identify`, warnings at `images` / `enrich`), never records a transport failure as
 *   "not on CivitAI" (report, records and the state store's negative cache), and every file it
 *   wrote parses; then a clean rerun completes the library: every identifiable file identified,
 *   and the same sidecars and previews as a library that never saw a fault;
 * - library with good sidecars, faults, `--force-refresh`: no good file is deleted or loses
 *   information (byte-identical, or identical but for fetch timestamps after a successful refresh);
 *   without `--force-refresh` they stay byte-identical.
 *
 * Plus the acceptance run: 30 % injected failures and a 429 storm.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultCounts, FaultOptions } from '../../src/dev/fake-civitai/index.ts';
import { runScanJob, type ScanJobResult } from '../../src/integration/engine/run.ts';
import {
  checkStateStore,
  compareGoodFiles,
  contentOf,
  copyLibrary,
  createHardeningWorkspace,
  figures,
  identifiedEntries,
  isTempFile,
  isWritten,
  readTree,
  totalFaults,
  unknownEntries,
  type HardeningWorkspace,
  type LibrarySetup,
} from './helpers.ts';

let ws: HardeningWorkspace;
/** Two previews per model keep the suite fast (the fake renders every image it serves). */
const JOB = { output: { images: { max_count: 2, width: 96 } } };
/** A library after one clean run: copied (with its state) for every "good sidecars" test. */
let goodLibrary: string;
/** What a library that never saw a fault looks like after one run (relative path → content). */
let reference: Map<string, string>;
const totals = { runs: 0, requests: 0, faults: { '429': 0, '500': 0, '503-html': 0, truncated: 0, drop: 0 } as FaultCounts, stops: 0 };

beforeAll(async () => {
  ws = await createHardeningWorkspace('cs-faults-');
  const clean = await copyLibrary(ws, 'reference', { job: JOB });
  await runScanJob({ config: clean.config, job: clean.job, jobName: clean.name });
  reference = writtenContent(await readTree(clean.dir));
  goodLibrary = clean.dir;
});
afterAll(async () => {
  figures('faults', 'total', { runsUnderFaults: totals.runs, requestsUnderFaults: totals.requests, faultsInjected: totals.faults, serverStops: totals.stops });
  await ws?.close();
});

function writtenContent(tree: Map<string, Buffer>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [relative, bytes] of tree) if (isWritten(relative) && !isTempFile(relative)) out.set(relative, contentOf(relative, bytes));
  return out;
}

interface Scenario {
  name: string;
  faults?: FaultOptions;
  api?: Record<string, unknown>;
  /** The server closes when it has received this many requests (then restarts for the rerun). */
  stopAfter?: number;
}

const ALL_AT_ONCE: FaultOptions = {
  latencyMs: 1,
  jitterMs: 100,
  rate429: 0.15,
  retryAfter: 0,
  rate500: 0.1,
  rate503Html: 0.1,
  rateTruncated: 0.1,
  rateDrop: 0.1,
};

const SCENARIOS: Scenario[] = [
  { name: 'latency spikes, some past the timeout', faults: { jitterMs: 200 }, api: { timeout: 0.15 } },
  { name: '429 storm with Retry-After: 0', faults: { rate429: 0.6, retryAfter: 0 } },
  { name: '429 storm without Retry-After', faults: { rate429: 0.6, retryAfter: null } },
  { name: '500s', faults: { rate500: 0.45 } },
  { name: 'Cloudflare HTML 503s', faults: { rate503Html: 0.45 } },
  { name: 'truncated JSON bodies', faults: { rateTruncated: 0.45 } },
  { name: 'connections reset mid-body', faults: { rateDrop: 0.45 } },
  { name: 'the server stops after its 2nd request', stopAfter: 2 },
  { name: 'the server stops after its 6th request', stopAfter: 6 },
  { name: 'everything at once', faults: ALL_AT_ONCE },
];

/** Runs the job under the scenario's faults; restores a healthy server afterwards. */
async function underFaults(scenario: Scenario, seed: number, run: () => Promise<ScanJobResult>) {
  const before = { ...ws.fake.faultCounts };
  const requestsBefore = ws.fake.requests.length;
  let stopped = false;
  const requests = ws.fake.requests;
  const push = requests.push;
  if (scenario.stopAfter !== undefined) {
    const stopAt = requestsBefore + scenario.stopAfter;
    requests.push = function (...items) {
      const length = push.apply(this, items);
      if (!stopped && length >= stopAt) {
        stopped = true;
        void ws.fake.close();
      }
      return length;
    };
  }
  ws.fake.setFaults({ seed, ...scenario.faults });
  let result: ScanJobResult;
  try {
    result = await run();
  } finally {
    requests.push = push;
    ws.fake.setFaults({});
  }
  const injected = Object.fromEntries(Object.entries(ws.fake.faultCounts).map(([kind, n]) => [kind, n - (before[kind as keyof FaultCounts] ?? 0)])) as FaultCounts;
  const requestCount = requests.length - requestsBefore;
  totals.runs += 1;
  totals.requests += requestCount;
  for (const [kind, n] of Object.entries(injected)) totals.faults[kind as keyof FaultCounts] += n;
  if (stopped) {
    totals.stops += 1;
    await ws.restartFake();
  }
  return { result, injected, requests: requestCount, stopped };
}

/** The rules every run under faults must keep, whatever failed. */
async function expectHonestReport(setup: LibrarySetup, { records, report }: ScanJobResult) {
  const byRelative = new Map(records.map((record) => [path.relative(setup.dir, record.file.path).split(path.sep).join('/'), record]));
  const unknownPaths = new Set(unknownEntries(ws.library).map((entry) => entry.relativePath));
  const unknownHashes = new Set(unknownEntries(ws.library).map((entry) => entry.sha256));
  // Only a real "no such file on CivitAI" counts as not-found.
  expect(report.api.notFound).toBeLessThanOrEqual(unknownPaths.size);
  for (const entry of identifiedEntries(ws.library)) {
    const record = byRelative.get(entry.relativePath);
    expect(record, entry.relativePath).toBeDefined();
    expect(record?.civitai.status, `${entry.relativePath}: a transport failure recorded as not-found`).not.toBe('not-found');
    if (record?.civitai.status !== 'identified') {
      // ...and a failed lookup is in the report, with its stage.
      expect(report.errors.filter((error) => error.path === record?.file.path).map((error) => error.stage)).toContain('identify');
      expect(record?.civitai.status).toBe('unknown');
      expect(record?.civitai.error).toBeTruthy();
    }
  }
  for (const record of records) {
    if (record.civitai.status === 'not-found') expect(unknownHashes.has(record.hashes.SHA256), record.file.path).toBe(true);
  }
  if (report.images.failed > 0) expect(report.warnings.some((warning) => warning.stage === 'images')).toBe(true);
  for (const entry of [...report.errors, ...report.warnings]) {
    expect(entry.message.length, JSON.stringify(entry)).toBeGreaterThan(5);
    expect(entry.message).not.toMatch(/\[object Object\]|undefined$/);
  }
  // The negative cache (when the state store keeps one) holds real 404s only.
  const store = checkStateStore(setup.cacheDir);
  if (store.present) {
    expect(store.integrity).toBe('ok');
    for (const hash of store.notFound ?? []) expect(unknownHashes.has(hash), `not_found holds ${hash}`).toBe(true);
  }
  // Whatever was written parses.
  for (const [relative, bytes] of await readTree(setup.dir)) {
    if (/\.(json|civitai\.info)$/.test(relative) && !isTempFile(relative)) expect(() => JSON.parse(bytes.toString('utf8')), relative).not.toThrow();
  }
}

function expectComplete(setup: LibrarySetup, { records, report }: ScanJobResult) {
  for (const entry of identifiedEntries(ws.library)) {
    const record = records.find((candidate) => candidate.file.path === path.join(setup.dir, entry.relativePath));
    expect(record?.civitai.status, entry.relativePath).toBe('identified');
    expect(record?.version?.id).toBe(entry.binding?.versionId);
  }
  for (const entry of unknownEntries(ws.library)) {
    expect(records.find((candidate) => candidate.file.path === path.join(setup.dir, entry.relativePath))?.civitai.status).toBe('not-found');
  }
  expect(report.errors.filter((error) => error.stage === 'identify')).toEqual([]);
}

/** Same sidecars, compat files and previews as the library that never saw a fault. */
async function differencesFromReference(dir: string): Promise<string[]> {
  const mine = writtenContent(await readTree(dir));
  const out: string[] = [];
  for (const [relative, content] of reference) {
    if (!mine.has(relative)) out.push(`missing ${relative}`);
    else if (mine.get(relative) !== content) out.push(`differs ${relative}`);
  }
  for (const relative of mine.keys()) if (!reference.has(relative)) out.push(`extra ${relative}`);
  return out;
}

describe('the pipeline under each fault alone and all together', () => {
  it('control: a clean run of a fresh copy writes exactly what the reference library has', async () => {
    const setup = await copyLibrary(ws, 'control', { job: JOB });
    await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name });
    expect(await differencesFromReference(setup.dir)).toEqual([]);
  });

  for (const [index, scenario] of SCENARIOS.entries()) {
    const seed = 100 + index;
    const slug = scenario.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();

    it(`${scenario.name}: a fresh library finishes, reports honestly, and a clean rerun completes it`, async () => {
      const setup = await copyLibrary(ws, `fresh-${slug}`, { api: scenario.api, job: JOB });
      const faulty = await underFaults(scenario, seed, () => runScanJob({ config: setup.config, job: setup.job, jobName: setup.name }));
      figures('faults', `${scenario.name} (fresh)`, {
        requests: faulty.requests,
        injected: faulty.injected,
        serverStopped: faulty.stopped,
        identified: faulty.result.report.api.identified,
        identifyErrors: faulty.result.report.errors.filter((error) => error.stage === 'identify').length,
        imageFailures: faulty.result.report.images.failed,
        retries: faulty.result.report.api.retries,
      });
      if (scenario.faults && !scenario.faults.jitterMs) expect(totalFaults(faulty.injected)).toBeGreaterThan(0);
      await expectHonestReport(setup, faulty.result);

      const rerun = await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name });
      await expectHonestReport(setup, rerun);
      expectComplete(setup, rerun);
      // Completing the library includes what the faults cut short: previews, parent models.
      expect.soft(await differencesFromReference(setup.dir), 'files after the clean rerun vs. a library that never saw a fault').toEqual([]);
    });

    it(`${scenario.name}: good sidecars survive a --force-refresh run and a normal run under the fault`, async () => {
      const setup = await copyLibrary(ws, `refresh-${slug}`, { api: scenario.api, job: JOB, from: goodLibrary });
      const good = await readTree(setup.dir);

      const plain = await underFaults(scenario, seed, () => runScanJob({ config: setup.config, job: setup.job, jobName: setup.name }));
      await expectHonestReport(setup, plain.result);
      expect(compareGoodFiles(good, await readTree(setup.dir), { allowRefresh: false })).toEqual([]);

      const forced = await underFaults(scenario, seed + 50, () =>
        runScanJob({ config: setup.config, job: setup.job, jobName: setup.name, forceRefresh: true }),
      );
      figures('faults', `${scenario.name} (force-refresh over good sidecars)`, {
        requests: forced.requests,
        injected: forced.injected,
        serverStopped: forced.stopped,
        identified: forced.result.report.api.identified,
        identifyErrors: forced.result.report.errors.filter((error) => error.stage === 'identify').length,
        warnings: forced.result.report.warnings.length,
      });
      await expectHonestReport(setup, forced.result);
      // Identified files keep their version whatever the lookup did.
      for (const entry of identifiedEntries(ws.library)) {
        const record = forced.result.records.find((candidate) => candidate.file.path === path.join(setup.dir, entry.relativePath));
        expect(record?.version?.id, entry.relativePath).toBe(entry.binding?.versionId);
      }
      expect(compareGoodFiles(good, await readTree(setup.dir), { allowRefresh: true }), 'good files changed by the faults').toEqual([]);
    });
  }
});

describe('acceptance: 30 % injected failures plus a 429 storm', () => {
  it('the run completes and reports the failures; a rerun without faults identifies everything; no earlier sidecar is changed', async () => {
    // Good sidecars for the LoRA folder first; then the whole library, refreshed, under faults.
    // A realistic retry budget (the storm alone is longer than the default 3 retries).
    const setup = await copyLibrary(ws, 'storm', { job: JOB, api: { max_retries: 10, batch: { circuit_breaker: { failure_threshold: 12, reset_timeout: 0.05 } } } });
    const lorasOnly = { ...setup.job, paths: ['loras'] };
    await runScanJob({ config: setup.config, job: lorasOnly, jobName: setup.name });
    const good = await readTree(setup.dir);
    const goodSidecars = [...good.keys()].filter((relative) => relative.endsWith('.json')).length;

    const storm: FaultOptions = {
      // A storm first (every request refused), then 30 % of the rest fail one way or another.
      failNext: Array.from({ length: 8 }, () => '429' as const),
      retryAfter: 0,
      rate500: 0.1,
      rate503Html: 0.08,
      rateTruncated: 0.06,
      rateDrop: 0.06,
    };
    const faulty = await underFaults({ name: 'storm', faults: storm }, 3, () =>
      runScanJob({ config: setup.config, job: setup.job, jobName: setup.name, forceRefresh: true }),
    );
    const injected = totalFaults(faulty.injected);
    figures('faults', 'acceptance (30 % failures + 429 storm)', {
      requests: faulty.requests,
      injected: faulty.injected,
      injectedShare: `${Math.round((100 * injected) / Math.max(1, faulty.requests))} %`,
      reportedErrors: faulty.result.report.errors.length,
      reportedWarnings: faulty.result.report.warnings.length,
      retries: faulty.result.report.api.retries,
      goodSidecarsBefore: goodSidecars,
    });
    expect(faulty.injected['429']).toBeGreaterThanOrEqual(8);
    expect(injected).toBeGreaterThan(12);
    await expectHonestReport(setup, faulty.result);
    expect(compareGoodFiles(good, await readTree(setup.dir), { allowRefresh: true }), 'sidecars written before the faults').toEqual([]);

    const rerun = await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name });
    expectComplete(setup, rerun);
    expect(rerun.report.api.identified).toBe(identifiedEntries(ws.library).length);
    expect(rerun.report.api.notFound).toBe(unknownEntries(ws.library).length);
  });
});
