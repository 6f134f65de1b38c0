/** `output.compat.lora_manager`: ComfyUI-Lora-Manager's .metadata.json, merged (unknown keys survive). */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { createWorkspace, setupLibrary, type Workspace } from '../support/library.ts';

let workspace: Workspace;
beforeAll(async () => {
  workspace = await createWorkspace('cs-lm-');
});
afterAll(async () => {
  await workspace.close();
});

describe('ComfyUI-Lora-Manager .metadata.json', () => {
  it('is written for identified files, keeps LM and user keys, and is not rewritten when nothing changed', async () => {
    const { config, job, name } = await setupLibrary(workspace, 'lm', { extra: { output: { compat: { lora_manager: true } } } });
    const entry = workspace.library.entries.find((candidate) => candidate.binding?.versionId === 1967584);
    const modelPath = path.join(workspace.root, 'lm', entry?.relativePath ?? '');
    const lmPath = path.join(path.dirname(modelPath), `${path.basename(modelPath, '.safetensors')}.metadata.json`);
    await writeFile(lmPath, JSON.stringify({ favorite: true, notes: 'mine', model_name: 'My name', civitai: { customImages: [{ id: 'x' }] }, lm_future_key: 1 }));
    const { records } = await runScanJob({ config, job, jobName: name });
    const record = records.find((candidate) => candidate.file.path === modelPath);
    const lm = JSON.parse(await readFile(lmPath, 'utf8'));
    expect(lm).toMatchObject({
      favorite: true,
      notes: 'mine',
      model_name: 'My name',
      lm_future_key: 1,
      sha256: record?.hashes.SHA256?.toLowerCase(),
      file_name: path.basename(modelPath, '.safetensors'),
      base_model: record?.version?.baseModel,
      from_civitai: true,
      civitai_deleted: false,
      metadata_source: 'civitai_api',
      hash_status: 'completed',
    });
    expect(lm.civitai.id).toBe(1967584);
    expect(lm.civitai.customImages).toEqual([{ id: 'x' }]);
    expect(lm.civitai.model.name).toBe(record?.model?.name);
    // Files CivitAI does not know get none.
    const unknown = records.find((candidate) => candidate.civitai.status === 'not-found');
    await expect(stat(path.join(path.dirname(unknown?.file.path ?? ''), `${unknown?.file.stem}.metadata.json`))).rejects.toThrow();

    const before = (await stat(lmPath)).mtimeMs;
    await runScanJob({ config, job, jobName: name });
    expect((await stat(lmPath)).mtimeMs).toBe(before);
  });
});
