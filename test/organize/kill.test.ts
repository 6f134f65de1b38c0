/**
 * kill -9 at random points. A child process runs a move-mode apply over a temp library and
 * SIGKILLs itself at probe point N (N drawn from fixed seeds over every point the run has: after
 * each journal line, between link and unlink, in the middle of a cross-device copy, after the
 * copy is placed, …). Then:
 *   1. right after the kill, every file is at its source or complete at its target;
 *   2. recovery leaves every file's bytes present exactly once, no temporary files;
 *   3. a rerun organizes everything, still exactly once;
 *   4. undo restores the original tree byte for byte.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyPlan,
  planOrganization,
  recoverIncompleteRuns,
  undoRun,
  writePlanJson,
  type CollisionPolicy,
  type OrganizePlan,
} from '../../src/integration/engine/organize/index.ts';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import { buildLibrary, contentIndex, organization, output, snapshot, writeFile, type TreeEntry } from './helpers.ts';
import { createPrng } from '../../src/dev/fake-civitai/prng.ts';

const CHILD = path.join(import.meta.dirname, 'kill-child.ts');
/** tmpfs when there is one: a kill -9 does not lose the page cache, so fsync has nothing to prove here, only time to cost. */
const BASE = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(BASE, 'organize-kill-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Scenario {
  name: string;
  seeds: number[];
  forceCrossDevice?: boolean;
  chunkSize?: number;
  onCollision: CollisionPolicy;
  keepTrash?: boolean;
  /** Kill the recovery too, at a random point, before the final recovery. */
  killRecovery?: boolean;
}

const scenarios: Scenario[] = [
  { name: 'same device (link + unlink)', seeds: [1, 2, 3, 4, 5, 6], onCollision: 'skip' },
  { name: 'cross device (copy, fsync, verify, delete)', seeds: [11, 12, 13, 14, 15], forceCrossDevice: true, chunkSize: 32 * 1024, onCollision: 'skip' },
  { name: 'overwrite: the old target goes to the trash', seeds: [21, 22, 23], onCollision: 'overwrite', keepTrash: true },
  { name: 'killed again during the recovery', seeds: [31, 32], forceCrossDevice: true, chunkSize: 32 * 1024, onCollision: 'skip', killRecovery: true },
];

/** The project's seeded PRNG as a function: every seed kills at the same point on every machine. */
function rng(seed: number): () => number {
  const prng = createPrng(seed);
  return () => prng.next();
}

interface Fixture {
  root: string;
  journalDir: string;
  records: ModelRecord[];
  plan: OrganizePlan;
  planFile: string;
  original: Record<string, TreeEntry>;
  /** Library-relative source → target of every planned file. */
  mapping: Map<string, string>;
}

function makeFixture(dir: string, scenario: Scenario): Fixture {
  const root = path.join(dir, 'library');
  const journalDir = path.join(dir, 'journal');
  mkdirSync(root, { recursive: true });
  const records = buildLibrary(root, [
    { rel: 'Lora/a/one.safetensors', companions: ['json', 'civitai.info', 'preview1.jpeg', 'preview2.mp4'], size: 200_000, fixture: { creator: 'alice' } },
    { rel: 'Lora/two.safetensors', companions: ['json', 'preview.png'], size: 90_000, fixture: { creator: 'bob', versionId: 2 } },
    { rel: 'Checkpoint/three.safetensors', companions: ['json'], size: 120_000, fixture: { type: 'Checkpoint', creator: 'carol', versionId: 3 } },
    { rel: 'Lora/b/four.safetensors', companions: ['json'], fixture: { identified: false } },
    { rel: 'Lora/five.safetensors', companions: ['json', 'preview1.webp'], size: 50_000, fixture: { creator: 'dave', versionId: 5 } },
  ]);
  // Something already sits where five.safetensors goes.
  writeFile(path.join(root, 'organized', 'LORA', 'dave', 'five.safetensors'), 'an older five: the only copy of these bytes');
  const plan = planOrganization(records, {
    organization: organization({ output_dir: path.join(root, 'organized'), template: 'by_type_and_creator', operation_mode: 'move', on_collision: scenario.onCollision }),
    output: output(),
  });
  const mapping = new Map<string, string>();
  for (const unit of plan.units) {
    if (unit.verdict !== 'ok' && unit.verdict !== 'overwrite') continue;
    for (const file of unit.files) mapping.set(path.relative(root, file.source), path.relative(root, file.target));
  }
  const planFile = path.join(dir, 'plan.json');
  return { root, journalDir, records, plan, planFile, original: snapshot(root), mapping };
}

function runChild(args: Record<string, unknown>, dir: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const argsFile = path.join(dir, `child-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(argsFile, JSON.stringify(args));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, argsFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Contents of the trash folders (overwritten targets set aside), by SHA-256. */
function trashContents(journalDir: string): Map<string, string[]> {
  return existsSync(journalDir) ? contentIndex(journalDir) : new Map();
}

/** Right after a kill: each original file is at its source or complete at its target. */
function expectNothingLost(fixture: Fixture): void {
  const now = snapshot(fixture.root);
  const trash = trashContents(fixture.journalDir);
  const originalHashes = new Set<string>();
  for (const [rel, entry] of Object.entries(fixture.original)) {
    if (entry.kind !== 'file') continue;
    originalHashes.add(entry.sha256);
    const places = [rel, fixture.mapping.get(rel)].filter((place): place is string => place !== undefined);
    const intact = places.filter((place) => {
      const found = now[place];
      return found?.kind === 'file' && found.sha256 === entry.sha256;
    });
    expect(intact.length + (trash.has(entry.sha256) ? 1 : 0), `${rel} lost`).toBeGreaterThanOrEqual(1);
  }
  // No torn file under a final name: everything not a temp file is some original's bytes.
  for (const [rel, entry] of Object.entries(now)) {
    if (entry.kind === 'file' && !rel.endsWith('.part')) expect(originalHashes.has(entry.sha256), `${rel} is not an original file`).toBe(true);
  }
}

/** Every original file's bytes exist exactly once (library + trash), and no temp files remain. */
function expectExactlyOnce(fixture: Fixture, where: 'source' | 'target'): void {
  const library = contentIndex(fixture.root);
  const trash = trashContents(fixture.journalDir);
  const now = snapshot(fixture.root);
  expect(Object.keys(now).filter((rel) => rel.endsWith('.part'))).toEqual([]);
  for (const [rel, entry] of Object.entries(fixture.original)) {
    if (entry.kind !== 'file') continue;
    const copies = [...(library.get(entry.sha256) ?? []), ...(trash.get(entry.sha256) ?? [])];
    expect(copies, `${rel}`).toHaveLength(1);
    const expected = where === 'source' ? rel : (fixture.mapping.get(rel) ?? rel);
    if (library.has(entry.sha256)) expect(copies[0]).toBe(expected.split(path.sep).join('/'));
  }
}

describe('kill -9 at random points, then recovery, rerun and undo', () => {
  for (const scenario of scenarios) {
    describe(scenario.name, () => {
      let total = 0;
      beforeAll(async () => {
        // Count the probe points of an uninterrupted run on an identical library.
        const dir = mkdtempSync(path.join(tmp, 'count-'));
        const fixture = makeFixture(dir, scenario);
        await applyPlan(fixture.plan, {
          journalDir: fixture.journalDir,
          keepTrash: scenario.keepTrash,
          forceCrossDevice: scenario.forceCrossDevice,
          chunkSize: scenario.chunkSize,
          onStep: (step) => (total = step.n),
        });
        expect(total).toBeGreaterThan(20);
      });

      for (const seed of scenario.seeds) {
        it(`seed ${seed}`, async () => {
          const random = rng(seed);
          const dir = mkdtempSync(path.join(tmp, `seed-${seed}-`));
          const fixture = makeFixture(dir, scenario);
          await writePlanJson(fixture.plan, fixture.planFile);
          const killAt = 1 + Math.floor(random() * total);
          const hooks = { forceCrossDevice: scenario.forceCrossDevice, chunkSize: scenario.chunkSize };
          const child = await runChild({ action: 'apply', planFile: fixture.planFile, journalDir: fixture.journalDir, killAt, keepTrash: scenario.keepTrash, ...hooks }, dir);
          expect(child.signal, child.stderr).toBe('SIGKILL');
          expectNothingLost(fixture);

          if (scenario.killRecovery) {
            // A rollback has far fewer probe points than the run: kill it early (or it finishes: fine too).
            const again = await runChild({ action: 'recover', journalDir: fixture.journalDir, killAt: 1 + Math.floor(random() * 12), ...hooks }, dir);
            expect(again.signal === 'SIGKILL' || again.code === 0, again.stderr).toBe(true);
            expectNothingLost(fixture);
          }

          const recovery = await recoverIncompleteRuns(fixture.journalDir, hooks);
          for (const run of recovery.runs) expect(run.problems).toEqual([]);
          const rolledBack = recovery.runs.some((run) => run.action === 'rolled-back');
          if (process.env.KILL_DEBUG) console.log(scenario.name, seed, killAt, '/', total, recovery.runs.map((run) => run.action));
          if (rolledBack) {
            expectExactlyOnce(fixture, 'source');
            expect(snapshot(fixture.root)).toEqual(fixture.original);
            // Rerun: plan again from the same records and apply (uninterrupted).
            const plan = planOrganization(fixture.records, {
              organization: organization({ output_dir: path.join(fixture.root, 'organized'), template: 'by_type_and_creator', operation_mode: 'move', on_collision: scenario.onCollision }),
              output: output(),
            });
            const rerun = await applyPlan(plan, { journalDir: fixture.journalDir, keepTrash: scenario.keepTrash, ...hooks });
            expect(rerun.problems).toEqual([]);
          }
          expectExactlyOnce(fixture, 'target');

          const undo = await undoRun({ journalDir: fixture.journalDir, ...hooks });
          expect(undo.problems).toEqual([]);
          expect(snapshot(fixture.root)).toEqual(fixture.original);
        });
      }
    });
  }
});

describe('kill -9 during an undo, then recovery finishes the undo', () => {
  for (const seed of [41, 42]) {
    it(`seed ${seed}`, async () => {
      const scenario: Scenario = { name: 'undo', seeds: [], onCollision: 'skip', forceCrossDevice: true, chunkSize: 32 * 1024 };
      const dir = mkdtempSync(path.join(tmp, `undo-${seed}-`));
      const fixture = makeFixture(dir, scenario);
      const hooks = { forceCrossDevice: true, chunkSize: 32 * 1024 };
      await applyPlan(fixture.plan, { journalDir: fixture.journalDir, ...hooks });
      expectExactlyOnce(fixture, 'target');
      // Count the undo's probe points on a twin, then kill the real one at a seeded point.
      const twinDir = mkdtempSync(path.join(tmp, `undo-twin-${seed}-`));
      const twin = makeFixture(twinDir, scenario);
      await applyPlan(twin.plan, { journalDir: twin.journalDir, ...hooks });
      let total = 0;
      await undoRun({ journalDir: twin.journalDir, ...hooks, onStep: (step) => (total = step.n) });
      const killAt = 1 + Math.floor(rng(seed)() * total);
      const child = await runChild({ action: 'undo', journalDir: fixture.journalDir, killAt, ...hooks }, dir);
      expect(child.signal, child.stderr).toBe('SIGKILL');
      expectNothingLost(fixture);
      const recovery = await recoverIncompleteRuns(fixture.journalDir, hooks);
      expect(recovery.runs.map((run) => [run.kind, run.action, run.problems])).toEqual(killAt === total ? [] : [['undo', 'finished', []]]);
      expect(snapshot(fixture.root)).toEqual(fixture.original);
    });
  }
});
