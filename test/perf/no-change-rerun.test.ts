/**
 * A rerun over an unchanged library takes our sidecars from the state store's stamps: it reads
 * none of them, builds the same records as a run that reads them all, and writes nothing. A
 * sidecar edited by hand is read again; a model file that changed is hashed and looked up again;
 * an answer that changed is written, and the next rerun hands out the new one.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { sidecarReadStats } from '../../src/integration/engine/sidecars/metadata.ts';
import { openStateStore } from '../../src/integration/engine/state/index.ts';
import { startFakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { createWorkspace, setupLibrary, type Setup, type Workspace } from '../support/library.ts';

let workspace: Workspace;
let lib: Setup;
beforeAll(async () => {
  workspace = await createWorkspace('cs-rerun-');
  lib = await setupLibrary(workspace, 'lib', { job: { output: { images: { max_count: 1, width: 96 } } } });
});
afterAll(async () => {
  await workspace?.close();
});

const run = () => runScanJob({ config: lib.config, job: lib.job, jobName: lib.name });
const comparable = (records: Awaited<ReturnType<typeof run>>['records']) =>
  records.map(({ problems, ...record }) => ({ ...record, problems: problems.filter((problem) => problem.stage !== 'images') }));

describe('a no-change rerun', () => {
  it('reads no sidecar, builds the same records as a full read, and writes nothing', async () => {
    const first = await run();
    const sidecars = first.records.map((record) => record.sidecarPath).filter((file): file is string => file !== undefined);
    expect(sidecars.length).toBeGreaterThan(3);
    const mtimes = await Promise.all(sidecars.map(async (file) => (await stat(file)).mtimeMs));

    let before = sidecarReadStats.reads;
    const rerun = await run();
    expect(sidecarReadStats.reads - before).toBe(0);
    expect(rerun.report.sidecars.written).toBe(0);
    expect(await Promise.all(sidecars.map(async (file) => (await stat(file)).mtimeMs))).toEqual(mtimes);

    // The same run with the stamps gone reads every sidecar: the records must not differ.
    const store = openStateStore(lib.config.scanner.cache_dir);
    const stamped = store.sidecars.count();
    expect(stamped).toBeGreaterThanOrEqual(sidecars.length);
    for (const file of sidecars) store.sidecars.forget(file);
    store.close();
    before = sidecarReadStats.reads;
    const fullRead = await run();
    expect(sidecarReadStats.reads - before).toBeGreaterThanOrEqual(sidecars.length);
    expect(fullRead.report.sidecars.written).toBe(0);
    expect(comparable(rerun.records)).toEqual(comparable(fullRead.records));

    // …and stamped them again: the next run reads none.
    before = sidecarReadStats.reads;
    await run();
    expect(sidecarReadStats.reads - before).toBe(0);
  });

  it('reads a sidecar edited by hand again', async () => {
    const first = await run();
    const target = first.records.find((record) => record.sidecarPath)?.sidecarPath as string;
    const document = JSON.parse(await readFile(target, 'utf8')) as Record<string, unknown>;
    document.notes = 'my own notes';
    await writeFile(target, `${JSON.stringify(document, null, 2)}\n`);
    const before = sidecarReadStats.reads;
    await run();
    expect(sidecarReadStats.reads - before).toBe(1);
    // The user's key survives, and the edited file is stamped: the next run reads nothing.
    expect((JSON.parse(await readFile(target, 'utf8')) as Record<string, unknown>).notes).toBe('my own notes');
    const again = sidecarReadStats.reads;
    await run();
    expect(sidecarReadStats.reads - again).toBe(0);
  });

  it('hashes and looks up again a model file that changed, and only that one', async () => {
    const first = await run();
    // The last one: the next test takes the first.
    const target = first.records.findLast((record) => record.sidecarPath && record.civitai.status === 'identified');
    expect(target).toBeDefined();
    const bytes = await readFile(target?.file.path as string);
    await writeFile(target?.file.path as string, Buffer.concat([bytes, Buffer.alloc(16, 7)]));
    const before = sidecarReadStats.reads;
    const changed = await run();
    // Its stamp no longer fits (the model's size and mtime): its sidecar is read, and as it
    // describes another file, the file is read whole, the only one.
    expect(sidecarReadStats.reads - before).toBeGreaterThanOrEqual(1);
    expect(changed.report.hash.files).toBe(1);
    const record = changed.records.find((entry) => entry.file.path === target?.file.path);
    expect(record?.file.size).toBe(bytes.length + 16);
    expect(record?.hashes.SHA256).not.toBe(target?.hashes.SHA256);
    // ...and the next run has it stamped: nothing read, hashed or written.
    const again = sidecarReadStats.reads;
    const rerun = await run();
    expect(sidecarReadStats.reads - again).toBe(0);
    expect(rerun.report.hash.files).toBe(0);
    expect(rerun.report.sidecars.written).toBe(0);
  });

  it('writes an answer that changed, and the next rerun hands out the new one without reading a sidecar', async () => {
    const first = await run();
    const target = first.records.find((record) => record.civitai.status === 'identified' && record.model?.modelVersions?.some((version) => version.id === record.version?.id));
    const modelId = target?.model?.id as number;
    // The same CivitAI, where the model has gained a version since.
    const newer = await startFakeCivitai({
      library: workspace.library,
      extraVersions: [{ modelId, like: target?.version?.id as number, version: { id: 990_000_001, name: 'v9 since the first run' } }],
    });
    try {
      const config = { ...lib.config, api: { ...lib.config.api, base_url: newer.apiBaseUrl } };
      const refreshed = await runScanJob({ config, job: lib.job, jobName: lib.name, forceRefresh: true });
      const changed = refreshed.records.filter((record) => record.model?.id === modelId);
      expect(changed.length).toBeGreaterThan(0);
      for (const record of changed) expect(record.model?.modelVersions?.map((version) => version.id)).toContain(990_000_001);
      const sidecar = JSON.parse(await readFile(target?.sidecarPath as string, 'utf8')) as { civitscraper: { model: { modelVersions: { id: number }[] } } };
      expect(sidecar.civitscraper.model.modelVersions.map((version) => version.id)).toContain(990_000_001);
    } finally {
      await newer.close();
    }
    const before = sidecarReadStats.reads;
    const rerun = await run();
    expect(sidecarReadStats.reads - before).toBe(0);
    expect(rerun.report.sidecars.written).toBe(0);
    const record = rerun.records.find((entry) => entry.file.path === target?.file.path);
    expect(record?.model?.modelVersions?.map((version) => version.id)).toContain(990_000_001);
  });
});
