/**
 * `organize --undo` without a run id undoes the last run that changed something (a rerun that
 * found everything in place is not a target), and the runs can be listed, newest first.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyPlan, listRuns, planOrganization, relocateRecord, summarizeRuns, undoRun } from '../../src/integration/engine/organize/index.ts';
import type { OperationMode } from '../../src/integration/engine/organize/index.ts';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import { buildLibrary, organization, output, writeFile } from './helpers.ts';

let tmp: string;
let lib: string;
let out: string;
let journalDir: string;

beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'organize-undo-list-'));
  lib = path.join(tmp, 'lib');
  out = path.join(tmp, 'out');
  journalDir = path.join(tmp, 'journal');
  mkdirSync(lib, { recursive: true });
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

async function organize(records: ModelRecord[], mode: OperationMode, policy: 'skip' | 'fail' = 'skip') {
  const plan = planOrganization(records, { organization: organization({ output_dir: out, operation_mode: mode, on_collision: policy }), output: output() });
  const result = await applyPlan(plan, { journalDir });
  const moved = new Map(result.relocations.map((relocation) => [relocation.recordId, relocation]));
  return { result, records: records.map((record) => (moved.has(record.id) ? relocateRecord(record, moved.get(record.id)!) : record)) };
}

describe('organize --undo without a run id', () => {
  it('skips reruns that changed nothing and undoes the last run that did', async () => {
    const records = buildLibrary(lib, [{ rel: 'a.safetensors', companions: ['json'] }, { rel: 'b.safetensors' }]);
    const first = await organize(records, 'move');
    expect(first.result.counts.done).toBe(2);
    // A rerun: everything is in place already, so it changes nothing (but is journaled).
    const second = await organize(first.records, 'move');
    expect(second.result.counts['in-place']).toBe(2);
    expect(second.result.runId).toBeDefined();

    const undo = await undoRun({ journalDir });
    expect(undo.undoneRunId).toBe(first.result.runId);
    expect(undo.reversed).toBeGreaterThan(0);
    expect(existsSync(path.join(lib, 'a.safetensors'))).toBe(true);
    expect(existsSync(path.join(lib, 'a.json'))).toBe(true);
    expect(existsSync(path.join(out, 'LORA', 'a.safetensors'))).toBe(false);

    // Nothing that changed anything is left: a clear refusal, not "0 operations reversed".
    await expect(undoRun({ journalDir })).rejects.toMatchObject({ code: 'NO_RUN' });
    // An explicit id still works on a run that changed nothing.
    expect((await undoRun({ journalDir, runId: second.result.runId! })).reversed).toBe(0);
  });
});

describe('listing the runs', () => {
  it('newest first: id, date, moved/copied/linked/failed, undone or not', async () => {
    const records = buildLibrary(lib, [{ rel: 'a.safetensors', companions: ['json'] }, { rel: 'b.safetensors' }, { rel: 'c.safetensors' }]);
    writeFile(path.join(out, 'LORA', 'c.safetensors'), 'something else is there');
    const copied = await organize(records.slice(0, 1), 'copy');
    const linked = await organize(records.slice(1, 2), 'symlink');
    const failing = await organize(records.slice(2), 'move', 'fail');
    expect(failing.result.counts.failed).toBe(1);
    const undo = await undoRun({ journalDir, runId: copied.result.runId! });

    const runs = await summarizeRuns(journalDir);
    expect(runs.map((run) => run.runId)).toEqual([undo.runId, failing.result.runId, linked.result.runId, copied.result.runId]);
    expect(runs.map((run) => run.runId)).toEqual((await listRuns(journalDir)).map((run) => run.runId).reverse());
    const [undoRunInfo, failed, link, copy] = runs;
    expect(undoRunInfo).toMatchObject({ kind: 'undo', undoOf: copied.result.runId, undone: false });
    expect(failed).toMatchObject({ kind: 'organize', mode: 'move', counts: { moved: 0, copied: 0, linked: 0, failed: 1 }, undone: false });
    expect(link).toMatchObject({ kind: 'organize', mode: 'symlink', counts: { moved: 0, copied: 0, linked: 1, failed: 0 }, undone: false });
    expect(copy).toMatchObject({ kind: 'organize', mode: 'copy', counts: { moved: 0, copied: 1, linked: 0, failed: 0 }, undone: true, undoneBy: undo.runId });
    for (const run of runs) expect(Number.isNaN(Date.parse(run.startedAt))).toBe(false);
  });

  it('an empty journal folder (or none) lists nothing', async () => {
    expect(await summarizeRuns(journalDir)).toEqual([]);
  });
});
