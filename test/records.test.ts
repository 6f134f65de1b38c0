import { describe, expect, it } from 'vitest';
import { ModelRecordSchema, slimForSite } from '../src/integration/records/schema.ts';

const record = ModelRecordSchema.parse({
  id: 'x-abc',
  file: { path: '/m/x.safetensors', inputPathId: 'loras', inputType: 'LORA', relativePath: 'x.safetensors', folder: '', name: 'x.safetensors', stem: 'x', ext: '.safetensors', size: 10, mtimeMs: 1 },
  hashes: { SHA256: 'AA' },
  civitai: { status: 'identified' },
  version: {
    id: 7,
    files: [
      { name: 'pruned.safetensors', primary: true, hashes: { SHA256: 'BB' } },
      { name: 'x.safetensors', hashes: { SHA256: 'aa' } },
    ],
    images: [{ url: 'https://image.civitai.com/a/b/c.jpeg', meta: { prompt: 'long' } }],
  },
  images: [{ path: '/m/x.preview1.jpeg', url: 'https://image.civitai.com/a/b/c.jpeg', type: 'image', nsfwLevel: 1 }],
});

describe('slimForSite', () => {
  it("keeps this file's entry and the local previews, drops the remote image list", () => {
    const slim = slimForSite(record);
    expect(slim.version?.files?.map((file) => file.name)).toEqual(['x.safetensors']);
    expect(slim.version?.images).toBeUndefined();
    expect(slim.images).toEqual(record.images);
    expect(ModelRecordSchema.safeParse(slim).success).toBe(true);
  });

  it('falls back to the primary file, and leaves records without a version alone', () => {
    const other = slimForSite({ ...record, hashes: { SHA256: 'CC' } });
    expect(other.version?.files?.map((file) => file.name)).toEqual(['pruned.safetensors']);
    const bare = { ...record, version: undefined };
    expect(slimForSite(bare)).toBe(bare);
  });
});
