import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  applyPlan,
  listRuns,
  planOrganization,
  recoverIncompleteRuns,
  relocateRecord,
  undoRun,
  type OperationMode,
  type CollisionPolicy,
  type OrganizeResult,
} from '../../src/integration/engine/organize/index.ts';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import { buildLibrary, organization, output, sha256, snapshot, writeFile } from './helpers.ts';

let tmp: string;
let lib: string;
let out: string;
let journalDir: string;

beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'organize-apply-'));
  lib = path.join(tmp, 'tree', 'lib');
  out = path.join(tmp, 'tree', 'out');
  journalDir = path.join(tmp, 'journal');
  mkdirSync(lib, { recursive: true });
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const ALPHA_SIDECARS = ['json', 'civitai.info', 'preview.png', 'preview1.jpeg', 'preview2.mp4'];

function library(): ModelRecord[] {
  const records = buildLibrary(lib, [
    { rel: 'a/alpha.safetensors', companions: ALPHA_SIDECARS, size: 300_000 },
    { rel: 'b/beta.safetensors', companions: ['json'], fixture: { type: 'LORA' } },
  ]);
  writeFile(path.join(out, 'LORA', 'beta.safetensors'), 'the occupant: only copy of these bytes');
  return records;
}

function plan(records: ModelRecord[], mode: OperationMode, policy: CollisionPolicy) {
  return planOrganization(records, { organization: organization({ output_dir: out, operation_mode: mode, on_collision: policy }), output: output() });
}

const tree = () => snapshot(path.join(tmp, 'tree'));
const alphaFiles = ['alpha.safetensors', ...ALPHA_SIDECARS.map((suffix) => `alpha.${suffix}`)];

function expectAlphaOrganized(mode: OperationMode, before: ReturnType<typeof snapshot>) {
  for (const name of alphaFiles) {
    const source = path.join(lib, 'a', name);
    const target = path.join(out, 'LORA', name);
    const original = before[`lib/a/${name}`];
    if (original?.kind !== 'file') throw new Error(`fixture ${name} missing`);
    switch (mode) {
      case 'move':
        expect(existsSync(source)).toBe(false);
        expect(sha256(readFileSync(target))).toBe(original.sha256);
        break;
      case 'copy':
        expect(sha256(readFileSync(source))).toBe(original.sha256);
        expect(sha256(readFileSync(target))).toBe(original.sha256);
        expect(statSync(target).mtimeMs).toBe(statSync(source).mtimeMs);
        expect(lstatSync(target).ino).not.toBe(lstatSync(source).ino);
        break;
      case 'symlink':
        expect(lstatSync(target).isSymbolicLink()).toBe(true);
        expect(readlinkSync(target)).toBe(source);
        break;
      case 'hardlink':
        expect(lstatSync(target).ino).toBe(lstatSync(source).ino);
        break;
    }
  }
}

describe('each mode × collision policy', () => {
  for (const mode of ['move', 'copy', 'symlink', 'hardlink'] as const) {
    for (const policy of ['skip', 'overwrite', 'fail'] as const) {
      it(`${mode} / ${policy}: model and sidecars as one unit; undo restores the tree byte for byte`, async () => {
        const records = library();
        const before = tree();
        const thePlan = plan(records, mode, policy);
        expect(thePlan.units.map((unit) => unit.verdict)).toEqual(['ok', policy]);
        const result = await applyPlan(thePlan, { journalDir, keepTrash: true });
        expect(result.problems).toEqual([]);
        expectAlphaOrganized(mode, before);

        const betaTarget = path.join(out, 'LORA', 'beta.safetensors');
        const betaSource = path.join(lib, 'b', 'beta.safetensors');
        const occupant = 'the occupant: only copy of these bytes';
        if (policy === 'overwrite') {
          expect(result.units[1]!.status).toBe('done');
          if (mode === 'symlink') expect(readlinkSync(betaTarget)).toBe(betaSource);
          else expect(sha256(readFileSync(betaTarget))).toBe(records[1]!.hashes.SHA256);
          // The occupant was set aside, not destroyed: still in the run's trash (keepTrash).
          const trash = path.join(journalDir, `${result.runId}.trash`);
          const aside = readdirSync(trash, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
          expect(aside.map((entry) => readFileSync(path.join(entry.parentPath, entry.name), 'utf8'))).toEqual([occupant]);
        } else {
          expect(result.units[1]!.status).toBe(policy === 'skip' ? 'skipped' : 'failed');
          expect(readFileSync(betaTarget, 'utf8')).toBe(occupant);
          expect(existsSync(betaSource)).toBe(true);
          expect(existsSync(path.join(out, 'LORA', 'beta.json'))).toBe(false);
        }
        expect(result.relocations.length).toBe(mode === 'move' ? (policy === 'overwrite' ? 2 : 1) : 0);

        const undo = await undoRun({ journalDir });
        expect(undo.undoneRunId).toBe(result.runId);
        expect(undo.problems).toEqual([]);
        expect(tree()).toEqual(before);
        expect(existsSync(path.join(journalDir, `${result.runId}.trash`))).toBe(false);
      });
    }
  }
});

describe('overwrite', () => {
  it('keeps the old target in the trash until the run completes, then deletes it; undo says what it cannot restore', async () => {
    const records = library();
    const before = tree();
    const trash = () => readdirSync(journalDir).filter((name) => name.endsWith('.trash'));
    let seenAtCommit: string[] = [];
    const result = await applyPlan(plan(records, 'move', 'overwrite'), {
      journalDir,
      onStep: (step) => {
        if (step.phase === 'commit') seenAtCommit = trash();
      },
    });
    expect(seenAtCommit).toHaveLength(1);
    expect(trash()).toEqual([]);
    const undo = await undoRun({ journalDir });
    expect(undo.problems).toEqual([expect.stringContaining('cannot be restored')]);
    const after = tree();
    const { ['out/LORA/beta.safetensors']: _gone, ...rest } = before;
    expect(after).toEqual(rest);
    expect(result.counts.done).toBe(2);
  });
});

describe('units stay together', () => {
  it('a sidecar that cannot be placed puts the model back: nothing is split', async () => {
    const records = library();
    const thePlan = plan(records, 'move', 'skip');
    // Appears after planning: the unit's 4th file will meet it.
    writeFile(path.join(out, 'LORA', 'alpha.preview1.jpeg'), 'late arrival');
    const before = tree();
    const result = await applyPlan(thePlan, { journalDir });
    expect(result.units[0]).toMatchObject({ status: 'failed', reason: expect.stringContaining('already exists') });
    expect(result.problems).toEqual([]);
    expect(tree()).toEqual(before);
    expect(result.relocations).toEqual([]);
  });

  it('a model whose bytes no longer match the ledger is not moved across devices', async () => {
    const records = library();
    const tampered = { ...records[0]!, hashes: { SHA256: 'F'.repeat(64) } };
    const before = tree();
    const result = await applyPlan(plan([tampered], 'move', 'skip'), { journalDir, forceCrossDevice: true });
    expect(result.units[0]).toMatchObject({ status: 'failed', reason: expect.stringContaining('changed since it was scanned') });
    expect(tree()).toEqual(before);
  });
});

describe('moves', () => {
  it('cross-device: copy, fsync, verify, delete the source; undo brings the bytes back', async () => {
    const records = library();
    const before = tree();
    const result = await applyPlan(plan(records, 'move', 'skip'), { journalDir, forceCrossDevice: true, chunkSize: 64 * 1024 });
    expect(result.counts.done).toBe(1);
    expectAlphaOrganized('move', before);
    expect(readdirSync(path.join(out, 'LORA')).filter((name) => name.endsWith('.part'))).toEqual([]);
    await undoRun({ journalDir, forceCrossDevice: true });
    expect(tree()).toEqual(before);
  });

  const shm = '/dev/shm';
  const crossDevice = existsSync(shm) && statSync(shm).dev !== statSync(tmpdir()).dev;
  it.runIf(crossDevice)('a real EXDEV (/dev/shm → temp dir) takes the verified copy path', async () => {
    const shmLib = mkdtempSync(path.join(shm, 'organize-lib-'));
    try {
      const records = buildLibrary(shmLib, [{ rel: 'x/gamma.safetensors', companions: ['json', 'preview1.jpeg'], size: 2_500_000 }]);
      const before = snapshot(shmLib);
      const result = await applyPlan(planOrganization(records, { organization: organization({ output_dir: out }), output: output() }), { journalDir });
      expect(result.counts.done).toBe(1);
      expect(sha256(readFileSync(path.join(out, 'LORA', 'gamma.safetensors')))).toBe(records[0]!.hashes.SHA256);
      expect(existsSync(path.join(shmLib, 'x', 'gamma.safetensors'))).toBe(false);
      await undoRun({ journalDir });
      expect(snapshot(shmLib)).toEqual(before);
      expect(existsSync(path.join(out, 'LORA'))).toBe(false);
    } finally {
      rmSync(shmLib, { recursive: true, force: true });
    }
  });

  it('the ledger follows moved files; a rerun finds everything in place', async () => {
    const records = library();
    const result: OrganizeResult = await applyPlan(plan(records, 'move', 'skip'), { journalDir });
    const relocation = result.relocations[0]!;
    const moved = relocateRecord(records[0]!, relocation);
    expect(moved.file.path).toBe(path.join(out, 'LORA', 'alpha.safetensors'));
    expect(moved.sidecarPath).toBe(path.join(out, 'LORA', 'alpha.json'));
    expect(moved.images.map((image) => image.path)).toEqual([path.join(out, 'LORA', 'alpha.preview1.jpeg'), path.join(out, 'LORA', 'alpha.preview2.mp4')]);
    expect(moved.hashes).toEqual(records[0]!.hashes);
    const again = plan([moved], 'move', 'skip');
    expect(again.units[0]!.verdict).toBe('in-place');
  });

  it('relocated records inside the input root get a new relative path and folder', async () => {
    const records = buildLibrary(lib, [{ rel: 'deep/er/m.safetensors' }]);
    const result = await applyPlan(planOrganization(records, { organization: organization({ output_dir: '{model_dir}/organized' }), output: output() }), { journalDir });
    const moved = relocateRecord(records[0]!, result.relocations[0]!);
    expect(moved.file.relativePath).toBe('deep/er/organized/LORA/m.safetensors');
    expect(moved.file.folder).toBe('deep/er/organized/LORA');
  });
});

describe('journal and undo', () => {
  it('writes one JSON-lines journal per run, outside the library; undo goes newest first', async () => {
    const records = library();
    const before = tree();
    const first = await applyPlan(plan([records[0]!], 'copy', 'skip'), { journalDir });
    const afterFirst = tree();
    const second = await applyPlan(plan([records[1]!], 'symlink', 'overwrite'), { journalDir, keepTrash: true });
    const lines = readFileSync(path.join(journalDir, `${first.runId}.jsonl`), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ type: 'begin', kind: 'organize', mode: 'copy' });
    expect(lines.at(-1)).toMatchObject({ type: 'commit' });
    expect(lines.filter((line) => line.type === 'intent').length).toBe(lines.filter((line) => line.type === 'done').length);

    expect((await undoRun({ journalDir })).undoneRunId).toBe(second.runId);
    expect(tree()).toEqual(afterFirst);
    expect((await undoRun({ journalDir })).undoneRunId).toBe(first.runId);
    expect(tree()).toEqual(before);
    await expect(undoRun({ journalDir })).rejects.toThrow(/no organize run to undo/);
    await expect(undoRun({ journalDir, runId: first.runId })).rejects.toThrow(/already undone/);
    expect((await listRuns(journalDir)).map((run) => run.begin.kind)).toEqual(['organize', 'organize', 'undo', 'undo']);
    expect(await recoverIncompleteRuns(journalDir)).toEqual({ runs: [] });
  });

  it('undo keeps a copy that was edited after the run (it is no longer ours to delete)', async () => {
    const records = library();
    await applyPlan(plan([records[0]!], 'copy', 'skip'), { journalDir });
    writeFile(path.join(out, 'LORA', 'alpha.json'), '{"edited": true}');
    const undo = await undoRun({ journalDir });
    expect(undo.problems).toEqual([expect.stringContaining('kept')]);
    expect(readFileSync(path.join(out, 'LORA', 'alpha.json'), 'utf8')).toBe('{"edited": true}');
    expect(existsSync(path.join(out, 'LORA', 'alpha.safetensors'))).toBe(false);
  });

  it('refuses to start while an interrupted run waits for recovery', async () => {
    const records = library();
    mkdirSync(journalDir, { recursive: true });
    writeFile(path.join(journalDir, 'x.jsonl'), `${JSON.stringify({ type: 'begin', format: 1, kind: 'organize', runId: 'x', startedAt: '2026-01-01T00:00:00.000Z', mode: 'move' })}\n`);
    await expect(applyPlan(plan(records, 'move', 'skip'), { journalDir })).rejects.toThrow(/interrupted; run the recovery first/);
    await expect(undoRun({ journalDir })).rejects.toThrow(/recovery/);
    expect((await recoverIncompleteRuns(journalDir)).runs).toEqual([{ runId: 'x', kind: 'organize', action: 'rolled-back', problems: [] }]);
    const result = await applyPlan(plan(records, 'move', 'skip'), { journalDir });
    expect(result.counts.done).toBe(1);
  });
});

describe('hostile names on disk', () => {
  it('../, /, :, *, unicode and 300-character names end up as real folders inside output_dir', async () => {
    const names = ['../../../etc', 'a/b:c*d?', `${'Ü'.normalize('NFD')}nïcødé 模型 ✨`, 'x'.repeat(300), 'CON', 'trailing. . .'];
    const records = buildLibrary(
      lib,
      names.map((name, index) => ({ rel: `m${index}.safetensors`, companions: ['json'], fixture: { modelName: name, creator: name, versionId: index + 1 } })),
    );
    const before = tree();
    const result = await applyPlan(
      planOrganization(records, { organization: organization({ output_dir: out, custom_template: '{creator}/{model_name}', operation_mode: 'move' }), output: output() }),
      { journalDir },
    );
    expect(result.counts.done).toBe(names.length);
    const folders = new Set<string>();
    for (const relocation of result.relocations) {
      for (const file of relocation.files) {
        const relative = path.relative(out, file.to);
        expect(relative.split(path.sep)[0]).not.toBe('..');
        expect(path.isAbsolute(relative)).toBe(false);
        expect(existsSync(file.to)).toBe(true);
        expect(relative.split(path.sep)).toHaveLength(3);
        folders.add(relative.split(path.sep)[0]!);
      }
    }
    expect([...folders].sort()).toEqual(['CON_', 'a_b_c_d_', 'trailing', 'x'.repeat(255), '_.._.._etc', 'Ünïcødé 模型 ✨'.normalize('NFC')].sort());
    await undoRun({ journalDir });
    expect(tree()).toEqual(before);
  });
});

describe('journal robustness', () => {
  it('a torn last line (a write cut by a crash) is ignored; recovery still rolls the run back', async () => {
    const records = library();
    const before = tree();
    const thePlan = plan(records, 'move', 'skip');
    let thrown = false;
    await expect(
      applyPlan(thePlan, {
        journalDir,
        onStep: (step) => {
          if (step.phase === 'linked' && step.n > 10 && !thrown) {
            thrown = true;
            throw new Error('simulated I/O error between link and unlink');
          }
        },
      }),
    ).resolves.toMatchObject({ counts: { failed: 1 }, problems: [] });
    // In-process failure: the unit was put back at once.
    expect(tree()).toEqual(before);
    const [run] = await listRuns(journalDir);
    const torn = path.join(journalDir, 'torn.jsonl');
    const text = readFileSync(run!.file, 'utf8').split('\n').filter((line) => !line.includes('"commit"')).join('\n');
    writeFile(torn, `${text.replace(run!.runId, 'torn')}{"type":"done","se`);
    const recovery = await recoverIncompleteRuns(journalDir);
    expect(recovery.runs).toEqual([{ runId: 'torn', kind: 'organize', action: 'rolled-back', problems: [] }]);
    expect(tree()).toEqual(before);
  });
});
