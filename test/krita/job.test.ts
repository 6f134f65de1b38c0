import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/integration/engine/config/index.ts';
import type { SyncLoraTriggersJob } from '../../src/integration/engine/config/schema.ts';
import { resolveMergePolicy, runSyncLoraTriggersJob } from '../../src/integration/engine/krita/index.ts';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import { buildSidecar, writeSidecar } from '../../src/integration/engine/sidecars/metadata.ts';
import { readLikeKrita } from './records.ts';

let dir: string;
let loras: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'krita-job-'));
  loras = path.join(dir, 'models', 'Lora');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A model file with the sidecar an earlier scan would have left beside it. */
async function identifiedModel(relativePath: string, trainedWords: string[]): Promise<void> {
  const file = path.join(loras, relativePath);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `not really tensors: ${relativePath}`);
  const info = await stat(file);
  const name = path.basename(file);
  const stem = name.replace(/\.safetensors$/, '');
  const version = { id: 7, modelId: 70, name: 'v1', trainedWords, files: [] };
  const record: ModelRecord = {
    id: stem,
    file: { path: file, inputPathId: 'loras', inputType: 'LORA', relativePath, folder: path.dirname(relativePath), name, stem, ext: '.safetensors', size: info.size, mtimeMs: info.mtimeMs },
    hashes: { SHA256: 'AB'.repeat(32) },
    civitai: { status: 'identified', checkedAt: '2026-01-01T00:00:00.000Z' },
    version,
    images: [],
    problems: [],
  };
  const sidecar = path.join(path.dirname(file), `${stem}.json`);
  await writeSidecar(sidecar, buildSidecar({ record, version, sidecarPath: sidecar }, { kind: 'missing' }));
}

function config(jobYaml: string) {
  const text = `input_paths:\n  loras:\n    path: ${loras}\n    type: LORA\njobs:\n  krita:\n${jobYaml}`;
  return parseConfig(text, path.join(dir, 'civitscraper.yaml'), { cwd: dir, env: {}, homeDir: path.join(dir, 'home') }).config;
}

const kritaFile = (entries: unknown[]) => JSON.stringify(entries, null, 2);

describe('sync-lora-triggers job', () => {
  it('seed keys: overwrite_triggers true means replace; records come from sidecars, offline', async () => {
    await identifiedModel('SDXL/pixel.safetensors', ['pixel art', 'pixelated']);
    const file = path.join(dir, 'loras.json');
    await writeFile(file, kritaFile([{ id: 'SDXL\\pixel.safetensors', name: 'SDXL/pixel', metadata: { lora_triggers: 'mine' } }]));
    const cfg = config(`    type: sync-lora-triggers\n    paths: [loras]\n    loras_file: ${file}\n    overwrite_triggers: true\n    write_strength: 0.8\n`);
    const job = cfg.jobs.krita as SyncLoraTriggersJob;
    const report = await runSyncLoraTriggersJob({ config: cfg, jobName: 'krita', job });
    expect(report.policy).toBe('replace');
    expect(report.outcome).toBe('written');
    expect(readLikeKrita(await readFile(file, 'utf8'))[0]?.metadata).toEqual({ lora_triggers: 'pixel art, pixelated', lora_strength: 0.8 });
  });

  it('finds loras.json in the plugin folder when loras_file is absent; dry_run writes nothing', async () => {
    await identifiedModel('flux.safetensors', ['realism']);
    const home = path.join(dir, 'home');
    const file = path.join(home, '.local/share/krita/ai_diffusion/database/loras.json');
    await mkdir(path.dirname(file), { recursive: true });
    const original = kritaFile([{ id: 'flux.safetensors', name: 'flux' }]);
    await writeFile(file, original);
    const cfg = config(`    type: sync-lora-triggers\n`);
    const job = cfg.jobs.krita as SyncLoraTriggersJob;
    const report = await runSyncLoraTriggersJob({ config: cfg, jobName: 'krita', job, dryRun: true, locate: { platform: 'linux', env: {}, homeDir: home } });
    expect(report.lorasFile).toBe(file);
    expect(report.policy).toBe('fill-empty');
    expect(report.outcome).toBe('dry-run');
    expect(report.diff).toContain('+    "metadata": {');
    expect(await readFile(file, 'utf8')).toBe(original);
  });

  it('fails clearly when no loras.json can be found', async () => {
    const cfg = config(`    type: sync-lora-triggers\n`);
    await expect(
      runSyncLoraTriggersJob({ config: cfg, jobName: 'krita', job: cfg.jobs.krita as SyncLoraTriggersJob, locate: { platform: 'linux', env: {}, homeDir: path.join(dir, 'nohome') } }),
    ).rejects.toThrow(/no Krita AI Diffusion loras\.json found.*set loras_file/);
  });
});

describe('merge policy from the config', () => {
  it('merge_policy wins; else overwrite_triggers; else fill-empty', () => {
    expect(resolveMergePolicy({})).toBe('fill-empty');
    expect(resolveMergePolicy({ overwrite_triggers: true })).toBe('replace');
    expect(resolveMergePolicy({ overwrite_triggers: false })).toBe('fill-empty');
    expect(resolveMergePolicy({ overwrite_triggers: true, merge_policy: 'append' })).toBe('append');
    expect(resolveMergePolicy({ overwrite_triggers: false, merge_policy: 'replace' })).toBe('replace');
  });

  it('the config schema takes the new keys and rejects unknown policies', () => {
    const job = config(`    type: sync-lora-triggers\n    merge_policy: append\n    write_strength: 0.5\n`).jobs.krita as SyncLoraTriggersJob;
    expect(job).toMatchObject({ merge_policy: 'append', write_strength: 0.5 });
    expect(job.overwrite_triggers).toBeUndefined();
    expect(() => config(`    type: sync-lora-triggers\n    merge_policy: merge\n`)).toThrow(/merge_policy/);
  });
});
