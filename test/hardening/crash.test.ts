/**
 * Crash suite: kill -9 the engine at random points of a run (fixed seeds), then check that
 *   1. right after the kill, every sidecar on disk parses (atomic writes: old or new, never half)
 *      and the state store passes SQLite's integrity check;
 *   2. the next run completes: every identifiable file identified, the same sidecars and
 *      previews as a library that was never interrupted, the store still intact (not moved
 *      aside as damaged), and no leftover `.tmp` file is taken for data.
 *
 * Two ways to pick the point, neither by time:
 * - the child SIGKILLs itself at probe N (every log line: one per request, retry and stage;
 *   every progress event; both sides of every rename), N drawn from the seed over all the
 *   probes an uninterrupted run has;
 * - the suite SIGKILLs the child when the fake CivitAI receives its Nth request, so the kill
 *   lands while the child is busy elsewhere (hashing, writing previews, the store).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScanJob } from '../../src/integration/engine/run.ts';
import {
  cacheFiles,
  checkStateStore,
  contentOf,
  copyLibrary,
  createHardeningWorkspace,
  figures,
  identifiedEntries,
  isTempFile,
  isWritten,
  readTree,
  rng,
  runEngineChild,
  unknownEntries,
  type HardeningWorkspace,
  type LibrarySetup,
} from './helpers.ts';

let ws: HardeningWorkspace;
/** Two previews per model keep the suite fast (the fake renders every image it serves). */
const JOB = { output: { images: { max_count: 2, width: 96 } } };
let reference: Map<string, string>;
/** Probes and requests of an uninterrupted run of a fresh copy. */
let full = { probes: 0, requests: 0 };
const tally = { kills: 0, finishedBeforeTheKill: 0, killedTwice: 0, tmpLeftovers: 0, tmpNames: new Set<string>(), sidecarsCheckedAfterKills: 0, storeChecks: 0 };

beforeAll(async () => {
  ws = await createHardeningWorkspace('cs-crash-');
  const clean = await copyLibrary(ws, 'reference', { job: JOB });
  const before = ws.fake.requests.length;
  const measured = await runEngineChild({ configFile: clean.configFile, out: path.join(ws.root, 'reference.json') });
  expect(measured.code, measured.stderr).toBe(0);
  full = { probes: measured.result?.probes ?? 0, requests: ws.fake.requests.length - before };
  reference = written(await readTree(clean.dir));
});
afterAll(async () => {
  figures('crash', 'total', { uninterruptedRun: full, ...tally, tmpNames: [...tally.tmpNames] });
  await ws?.close();
});

function written(tree: Map<string, Buffer>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [relative, bytes] of tree) if (isWritten(relative) && !isTempFile(relative)) out.set(relative, contentOf(relative, bytes));
  return out;
}

/** Right after a kill: what is on disk is old or new, never half-written. */
async function expectConsistentAfterKill(setup: LibrarySetup) {
  const tree = await readTree(setup.dir);
  let tmp = 0;
  for (const [relative, bytes] of tree) {
    if (isTempFile(relative)) {
      tmp += 1;
      tally.tmpNames.add(relative.replace(/\.[0-9a-f]{12}\.tmp$|\.\d+\.tmp$/, '.<random>.tmp'));
      continue;
    }
    if (/\.(json|civitai\.info)$/.test(relative)) {
      tally.sidecarsCheckedAfterKills += 1;
      expect(() => JSON.parse(bytes.toString('utf8')), `${relative} after kill -9`).not.toThrow();
    }
  }
  tally.tmpLeftovers += tmp;
  const store = checkStateStore(setup.cacheDir);
  if (store.present) {
    tally.storeChecks += 1;
    expect(store.integrity, `${store.file} after kill -9`).toBe('ok');
  }
  return { tmp, storePresent: store.present };
}

/** The run after the crash(es) completes the library as if nothing had happened. */
async function expectRecovered(setup: LibrarySetup) {
  const { records, report } = await runScanJob({ config: setup.config, job: setup.job, jobName: setup.name });
  for (const entry of identifiedEntries(ws.library)) {
    const record = records.find((candidate) => candidate.file.path === path.join(setup.dir, entry.relativePath));
    expect(record?.civitai.status, entry.relativePath).toBe('identified');
    expect(record?.version?.id).toBe(entry.binding?.versionId);
  }
  for (const entry of unknownEntries(ws.library)) {
    expect(records.find((candidate) => candidate.file.path === path.join(setup.dir, entry.relativePath))?.civitai.status).toBe('not-found');
  }
  expect(report.errors.filter((error) => error.stage !== 'hash' && error.stage !== 'discover')).toEqual([]);
  // No leftover of an interrupted write is taken for a model, a sidecar or a preview.
  for (const record of records) {
    expect(isTempFile(path.basename(record.file.path))).toBe(false);
    for (const image of record.images) expect(isTempFile(path.basename(image.path))).toBe(false);
  }
  for (const [relative, bytes] of await readTree(setup.dir)) {
    if (/\.(json|civitai\.info)$/.test(relative) && !isTempFile(relative)) expect(bytes.toString('utf8'), relative).not.toMatch(/\.tmp"/);
  }
  const store = checkStateStore(setup.cacheDir);
  if (store.present) expect(store.integrity).toBe('ok');
  expect(store.movedAside, 'the state store was treated as damaged').toEqual([]);
  const mine = written(await readTree(setup.dir));
  const differences: string[] = [];
  for (const [relative, content] of reference) {
    if (!mine.has(relative)) differences.push(`missing ${relative}`);
    else if (mine.get(relative) !== content) differences.push(`differs ${relative}`);
  }
  for (const relative of mine.keys()) if (!reference.has(relative)) differences.push(`extra ${relative}`);
  expect(differences, 'library after kill -9 and a rerun vs. one never interrupted').toEqual([]);
  return { cacheFiles: (await cacheFiles(setup.cacheDir)).map((file) => path.relative(setup.cacheDir, file)) };
}

describe('kill -9 at a probe point of the run (the child kills itself)', () => {
  const seeds = [1, 2, 3, 4, 5];
  for (const seed of seeds) {
    const twice = seed === 2 || seed === 5;
    it(`seed ${seed}${twice ? ' (and killed again during the next run)' : ''}`, async () => {
      expect(full.probes).toBeGreaterThan(20);
      const random = rng(seed);
      const setup = await copyLibrary(ws, `probe-${seed}`, { job: JOB });
      const killAt = 1 + Math.floor(random() * (full.probes - 1));
      const first = await runEngineChild({ configFile: setup.configFile, out: path.join(ws.root, `${path.basename(setup.dir)}-result.json`), killAt });
      const killed = first.signal === 'SIGKILL';
      if (killed) tally.kills += 1;
      else {
        tally.finishedBeforeTheKill += 1;
        expect(first.code, first.stderr).toBe(0);
      }
      const afterFirst = await expectConsistentAfterKill(setup);
      let secondKillAt: number | undefined;
      if (twice) {
        secondKillAt = 1 + Math.floor(random() * (full.probes / 2));
        const second = await runEngineChild({ configFile: setup.configFile, out: path.join(ws.root, `${path.basename(setup.dir)}-result-2.json`), killAt: secondKillAt });
        if (second.signal === 'SIGKILL') tally.killedTwice += 1;
        await expectConsistentAfterKill(setup);
      }
      const recovered = await expectRecovered(setup);
      figures('crash', `probe seed ${seed}`, { killAt, of: full.probes, killed, secondKillAt, tmpLeftovers: afterFirst.tmp, stateStore: afterFirst.storePresent, cacheFiles: recovered.cacheFiles });
    });
  }
});

describe('kill -9 from outside when the fake receives its Nth request', () => {
  for (const seed of [11, 12]) {
    it(`seed ${seed}`, async () => {
      expect(full.requests).toBeGreaterThan(3);
      const setup = await copyLibrary(ws, `request-${seed}`, { job: JOB });
      const nth = 1 + Math.floor(rng(seed)() * (full.requests - 1));
      const base = ws.fake.requests.length;
      const first = await runEngineChild(
        { configFile: setup.configFile, out: path.join(ws.root, `${path.basename(setup.dir)}-result.json`) },
        { fake: ws.fake, killWhen: () => ws.fake.requests.length - base >= nth },
      );
      const killed = first.signal === 'SIGKILL';
      if (killed) tally.kills += 1;
      else tally.finishedBeforeTheKill += 1;
      const after = await expectConsistentAfterKill(setup);
      await expectRecovered(setup);
      figures('crash', `request seed ${seed}`, { killAtRequest: nth, of: full.requests, killed, tmpLeftovers: after.tmp, stateStore: after.storePresent });
    });
  }
});
