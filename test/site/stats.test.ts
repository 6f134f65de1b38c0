/** The stats page's figures (site/stats.ts) on records made for the purpose. */
import { describe, expect, it } from 'vitest';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import { libraryStats } from '../../src/integration/site/stats.ts';

const settings = { domains: { sfw: 'civitai.com', nsfw: 'civitai.red' }, nsfwThreshold: 4 };

function record(id: string, options: { sha: string; size: number; mtimeMs?: number; versionId?: number; type?: string; folder?: string; base?: string }): ModelRecord {
  return {
    id,
    file: {
      path: `/lib/${id}.safetensors`,
      inputPathId: 'loras',
      inputType: options.type ?? 'LORA',
      relativePath: `${options.folder ? `${options.folder}/` : ''}${id}.safetensors`,
      folder: options.folder ?? '',
      name: `${id}.safetensors`,
      stem: id,
      ext: '.safetensors',
      size: options.size,
      mtimeMs: options.mtimeMs ?? 0,
    },
    hashes: { SHA256: options.sha },
    civitai: { status: options.versionId ? 'identified' : 'not-found' },
    ...(options.versionId ? { version: { id: options.versionId, modelId: 1, name: 'v1', baseModel: options.base ?? 'SDXL 1.0' } as ModelRecord['version'] } : {}),
    images: [],
    problems: [],
  };
}

describe('libraryStats', () => {
  const records = [
    record('a', { sha: 'AA', size: 100, mtimeMs: 3, versionId: 10, folder: 'SDXL' }),
    record('a-copy', { sha: 'aa', size: 100, mtimeMs: 1, versionId: 10, folder: 'SDXL/old' }),
    record('b', { sha: 'BB', size: 300, mtimeMs: 2, versionId: 20, base: 'Flux.1 D' }),
    record('b-converted', { sha: 'CC', size: 250, mtimeMs: 5, versionId: 20, base: 'Flux.1 D' }),
    record('mine', { sha: 'DD', size: 50, mtimeMs: 4, type: 'Checkpoint' }),
  ];
  const stats = libraryStats(records, settings);

  it('counts files and bytes by type, base model and first folder', () => {
    expect(stats.files).toBe(5);
    expect(stats.bytes).toBe(800);
    expect(stats.byType).toEqual([
      { label: 'LORA', count: 4, bytes: 750 },
      { label: 'Checkpoint', count: 1, bytes: 50 },
    ]);
    expect(stats.byBaseModel.map((tally) => [tally.label, tally.count])).toEqual([['Flux.1 D', 2], ['SDXL 1.0', 2], ['Unknown', 1]]);
    expect(stats.byFolder.find((tally) => tally.label === 'loras/SDXL')).toEqual({ label: 'loras/SDXL', count: 2, bytes: 200 });
  });

  it('lists the largest and newest files, and what is not identified', () => {
    expect(stats.largest.map((row) => row.id)).toEqual(['b', 'b-converted', 'a', 'a-copy', 'mine']);
    expect(stats.recent.map((row) => row.id)).toEqual(['b-converted', 'mine', 'a', 'b', 'a-copy']);
    expect(stats.unidentified.map((row) => row.id)).toEqual(['mine']);
  });

  it('groups identical files (SHA-256 in any case) and one version in files that differ', () => {
    expect(stats.duplicates.map((group) => [group.reason, group.files.map((row) => row.id)])).toEqual([
      ['same file', ['a', 'a-copy']],
      ['same version', ['b', 'b-converted']],
    ]);
  });
});
