/** Lists that several modules share, each defined once: what the derived copies must say. */
import { describe, expect, it } from 'vitest';
import { NSFW_LEVEL_NAMES, parseConfig } from '../src/integration/engine/config/index.ts';
import { NSFW_LEVEL_VALUES, NSFW_LEVELS } from '../src/integration/engine/media/nsfw.ts';
import { HASH_TYPES } from '../src/integration/engine/records/schema.ts';
import { isModelFileName, MODEL_FILE_EXTENSIONS } from '../src/integration/engine/scan/extensions.ts';
import { LEVEL_NAMES, levelIndex } from '../src/integration/site/view.ts';

describe('model file extensions', () => {
  it('are lower case, with the dot, and include .sft', () => {
    for (const ext of MODEL_FILE_EXTENSIONS) expect(ext).toMatch(/^\.[a-z0-9]+$/);
    expect(MODEL_FILE_EXTENSIONS).toEqual(expect.arrayContaining(['.safetensors', '.ckpt', '.pt', '.pth', '.bin', '.gguf', '.sft']));
  });

  it('recognise model file names and paths in any case', () => {
    for (const name of ['a.safetensors', 'B.CKPT', 'c.Pt', 'd.pth', 'e.bin', 'flux.gguf', 'f.sft', '/models/Lora/x y.safetensors']) {
      expect(isModelFileName(name), name).toBe(true);
    }
    for (const name of ['a.json', 'a.safetensors.json', 'a.civitai.info', 'a.preview.png', 'safetensors', 'a.safetensors.tmp', '']) {
      expect(isModelFileName(name), name).toBe(false);
    }
  });
});

describe('NSFW levels', () => {
  it('give the config names, the bit values and the labels from one table', () => {
    expect(NSFW_LEVEL_NAMES).toEqual(['PG', 'PG13', 'R', 'X', 'XXX']);
    expect(NSFW_LEVEL_VALUES).toEqual({ PG: 1, PG13: 2, R: 4, X: 8, XXX: 16 });
    expect(LEVEL_NAMES).toEqual(['Unrated', 'PG', 'PG-13', 'R', 'X', 'XXX']);
    for (const [index, level] of NSFW_LEVELS.entries()) expect(LEVEL_NAMES[levelIndex(level.value)]).toBe(LEVEL_NAMES[index + 1]);
  });
});

describe('hash types', () => {
  it('the config accepts every type and reads only the one-pass set by default (the rest is completed from CivitAI)', () => {
    const minimal = 'input_paths:\n  loras: { path: /m, type: LORA }\n';
    expect(parseConfig(minimal, '/c.yaml', { env: {} }).config.scanner.hash_types).toEqual(['SHA256', 'AutoV2', 'AutoV1']);
    const all = parseConfig(`${minimal}scanner:\n  hash_types: [${HASH_TYPES.join(', ')}]\n`, '/c.yaml', { env: {} });
    expect(all.config.scanner.hash_types).toEqual([...HASH_TYPES]);
  });
});
