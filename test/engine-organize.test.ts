import { lstat, mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScanJob } from '../src/integration/engine/run.ts';
import { undoRun } from '../src/integration/engine/organize/index.ts';
import { createWorkspace, setupLibrary, type Workspace } from './support/library.ts';

let workspace: Workspace;
beforeAll(async () => {
  workspace = await createWorkspace('cs-engine-org-');
});
afterAll(async () => {
  await workspace.close();
});

describe('a scan job with organization enabled', () => {
  it('links identified models into the template tree, and a rerun does not rediscover the links', async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'symlink', {
      job: { organization: { enabled: true, template: 'by_type_and_basemodel', operation_mode: 'symlink', output_dir: '{model_dir}/organized' } },
    });
    const first = await runScanJob({ config, job, jobName: name });
    expect(first.report.organize?.done).toBeGreaterThan(0);
    const link = path.join(dir, 'Lora', 'organized', 'LORA', 'Illustrious', 'Semi-realistic illustrious v1.5.safetensors');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe(path.join(dir, 'Lora', 'Semi-realistic illustrious v1.5.safetensors'));

    const second = await runScanJob({ config, job, jobName: name });
    expect(second.records).toHaveLength(first.records.length);
    expect(second.records.some((record) => record.file.path.includes(`${path.sep}organized${path.sep}`))).toBe(false);
  });

  it('in move mode the records (and the site) follow the files, sidecars travel along', async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'move', {
      job: { organization: { enabled: true, template: 'by_type', operation_mode: 'move', output_dir: path.join('{model_dir}', 'sorted') } },
    });
    const { records, report } = await runScanJob({ config, job, jobName: name });
    expect(report.organize?.failed).toBe(0);
    const moved = records.find((record) => record.file.name === 'Semi-realistic illustrious v1.5.safetensors');
    expect(moved?.file.path).toBe(path.join(dir, 'Lora', 'sorted', 'LORA', 'Semi-realistic illustrious v1.5.safetensors'));
    expect((await stat(moved?.file.path ?? '')).isFile()).toBe(true);
    expect((await stat(path.join(dir, 'Lora', 'sorted', 'LORA', 'Semi-realistic illustrious v1.5.json'))).isFile()).toBe(true);
    for (const image of moved?.images ?? []) expect((await stat(image.path)).isFile()).toBe(true);
    await expect(stat(path.join(dir, 'Lora', 'Semi-realistic illustrious v1.5.safetensors'))).rejects.toThrow();
  });

  it('a file replaced under on_collision: overwrite is kept, and undo brings it back', async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'overwrite', {
      job: { organization: { enabled: true, template: 'by_type', operation_mode: 'move', on_collision: 'overwrite', output_dir: path.join('{model_dir}', 'sorted') } },
    });
    const target = path.join(dir, 'Lora', 'sorted', 'LORA', 'Semi-realistic illustrious v1.5.safetensors');
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, 'the file that was there before');
    const { report } = await runScanJob({ config, job, jobName: name });
    expect(report.organize?.failed).toBe(0);
    expect((await stat(target)).size).not.toBe('the file that was there before'.length);
    const kept = report.warnings.find((warning) => warning.stage === 'organize' && warning.message.includes('--undo'));
    expect(kept?.message).toMatch(/overwrote are kept in /);

    const journalDir = path.join(path.resolve(config.scanner.cache_dir), 'organize-journal');
    await undoRun({ journalDir });
    expect(await readFile(target, 'utf8')).toBe('the file that was there before');
    expect((await stat(path.join(dir, 'Lora', 'Semi-realistic illustrious v1.5.safetensors'))).isFile()).toBe(true);
  });

  it('dry run plans without touching anything', async () => {
    const { dir, config, job, name } = await setupLibrary(workspace, 'dry', {
      job: { organization: { enabled: true, operation_mode: 'move' } },
    });
    const { report } = await runScanJob({ config, job, jobName: name, dryRun: true });
    expect(report.organize?.planned).toBeGreaterThan(0);
    expect(report.organize?.done).toBe(0);
    expect((await stat(path.join(dir, 'Lora', 'Semi-realistic illustrious v1.5.safetensors'))).isFile()).toBe(true);
  });
});
