import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { civitaiCrc32, civitaiHashes, safetensorsDataOffset } from '../src/dev/fake-civitai/hashes.ts';
import {
  generateSampleLibrary,
  loadSampleLibrary,
  MANIFEST_FILE,
  sampleInputPaths,
  type SampleEntry,
  type SampleLibrary,
} from '../src/dev/sample-library/index.ts';

let dirA: string;
let dirB: string;
let libA: SampleLibrary;
let libB: SampleLibrary;

const comparable = (lib: SampleLibrary) => lib.entries.map(({ note: _note, ...rest }) => rest);
const entryFor = (lib: SampleLibrary, versionId: number): SampleEntry => {
  const entry = lib.entries.find((e) => e.binding?.versionId === versionId);
  if (!entry) throw new Error(`no entry bound to ${versionId}`);
  return entry;
};
const pathOf = (dir: string, entry: SampleEntry) => join(dir, ...entry.relativePath.split('/'));

function parseSafetensors(bytes: Buffer): { header: Record<string, unknown>; headerLength: number } {
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  return { header, headerLength };
}

beforeAll(async () => {
  dirA = await mkdtemp(join(tmpdir(), 'sample-lib-a-'));
  dirB = await mkdtemp(join(tmpdir(), 'sample-lib-b-'));
  libA = await generateSampleLibrary(dirA);
  libB = await generateSampleLibrary(dirB);
}, 60_000);

afterAll(async () => {
  await rm(dirA, { recursive: true, force: true });
  await rm(dirB, { recursive: true, force: true });
});

describe('hash helpers', () => {
  it('match the known CivitAI hashes of "hello world"', async () => {
    const bytes = Buffer.from('hello world');
    const hashes = await civitaiHashes(bytes, { safetensors: false });
    expect(hashes).toEqual({
      SHA256: 'B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9',
      AutoV2: 'B94D27B993',
      CRC32: '85114A0D',
      BLAKE3: 'D74981EFA70A0C880B8D8C1985D075DBCBF679B99A5F9914E5AAF96B831A9E24',
    });
    expect(civitaiCrc32(bytes)).toBe('85114A0D');
    expect(safetensorsDataOffset(bytes)).toBeUndefined();
  });
});

describe('generateSampleLibrary', () => {
  it('is deterministic: two runs give the same files and hashes', () => {
    expect(comparable(libA)).toEqual(comparable(libB));
    expect(libA.entries.length).toBeGreaterThanOrEqual(12);
  });

  it('regenerating over an existing library (symlink included) gives the same manifest', async () => {
    const again = await generateSampleLibrary(dirA);
    expect(comparable(again)).toEqual(comparable(libA));
  }, 60_000);

  it('writes a manifest that loadSampleLibrary reads back', async () => {
    expect(await loadSampleLibrary(dirA)).toEqual(libA);
    expect((await stat(join(dirA, MANIFEST_FILE))).isFile()).toBe(true);
  });

  it('records the real SHA-256 (upper-case) and size of every readable file', async () => {
    for (const entry of libA.entries) {
      if (entry.kind === 'broken-symlink') {
        expect(entry.sha256).toBeUndefined();
        continue;
      }
      const bytes = await readFile(pathOf(dirA, entry));
      expect(entry.size).toBe(bytes.length);
      expect(entry.sha256).toBe(createHash('sha256').update(bytes).digest('hex').toUpperCase());
      expect(entry.sha256).toMatch(/^[0-9A-F]{64}$/);
      expect(entry.hashes?.AutoV2).toBe(entry.sha256?.slice(0, 10));
    }
  });

  it('writes well-formed safetensors files with kohya / modelspec metadata', async () => {
    const good = libA.entries.filter(
      (e) => (e.kind === 'identified' || e.kind === 'unknown') && e.relativePath.endsWith('.safetensors'),
    );
    expect(good.length).toBeGreaterThanOrEqual(8);
    let kohya = 0;
    for (const entry of good) {
      const bytes = await readFile(pathOf(dirA, entry));
      const { header, headerLength } = parseSafetensors(bytes);
      expect(headerLength % 8).toBe(0);
      let expectedStart = 0;
      for (const [name, info] of Object.entries(header)) {
        if (name === '__metadata__') continue;
        const { dtype, shape, data_offsets } = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
        expect(dtype).toMatch(/^F(16|32)$/);
        expect(data_offsets[0]).toBe(expectedStart);
        expect(data_offsets[1] - data_offsets[0]).toBe(shape.reduce((a, b) => a * b, 1) * (dtype === 'F16' ? 2 : 4));
        expectedStart = data_offsets[1];
      }
      expect(8 + headerLength + expectedStart).toBe(bytes.length);
      expect(entry.hashes?.AutoV3).toBe(
        createHash('sha256').update(bytes.subarray(8 + headerLength)).digest('hex').slice(0, 12).toUpperCase(),
      );
      const meta = header.__metadata__ as Record<string, string> | undefined;
      if (meta) for (const value of Object.values(meta)) expect(typeof value).toBe('string');
      if (meta?.ss_output_name) {
        kohya += 1;
        expect(meta.ss_base_model_version).toBeTruthy();
        expect(typeof JSON.parse(meta.ss_tag_frequency ?? '')).toBe('object');
        expect(meta['modelspec.title'] ?? meta.ss_output_name).toBeTruthy();
      }
      if (meta?.sshs_model_hash) {
        expect(meta.sshs_model_hash.slice(0, 12).toUpperCase()).toBe(entry.hashes?.AutoV3);
      }
    }
    expect(kohya).toBeGreaterThanOrEqual(3);
  });

  it('has sizes from a few KB to ~3 MB, with AutoV1 exactly for files of 2 MiB or more', () => {
    const readable = libA.entries.filter((e) => e.hashes);
    expect(readable.some((e) => e.size > 2 * 1024 * 1024)).toBe(true);
    expect(Math.max(...readable.map((e) => e.size))).toBeLessThan(4 * 1024 * 1024);
    for (const entry of readable) {
      expect(entry.hashes?.AutoV1 !== undefined).toBe(entry.size >= 2 * 1024 * 1024);
    }
  });

  it('includes one .pt embedding (a PyTorch zip), without AutoV3', async () => {
    const pt = libA.entries.filter((e) => e.relativePath.endsWith('.pt'));
    expect(pt).toHaveLength(1);
    const entry = pt[0] as SampleEntry;
    const bytes = await readFile(pathOf(dirA, entry));
    expect(bytes.subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
    expect(entry.hashes?.AutoV3).toBeUndefined();
    expect(entry.binding).toEqual({ versionId: 25820, modelId: 11772 });
  });

  it('contains the bad files: empty, corrupt headers, broken symlink', async () => {
    const byKind = (kind: SampleEntry['kind']) => libA.entries.filter((e) => e.kind === kind);
    const [empty] = byKind('empty');
    expect(empty?.size).toBe(0);
    expect((await stat(pathOf(dirA, empty as SampleEntry))).size).toBe(0);

    const corrupt = byKind('corrupt');
    expect(corrupt.length).toBeGreaterThanOrEqual(2);
    let lengthPastEnd = false;
    let notJson = false;
    for (const entry of corrupt) {
      const bytes = await readFile(pathOf(dirA, entry));
      expect(safetensorsDataOffset(bytes)).toBeUndefined();
      const length = Number(bytes.readBigUInt64LE(0));
      if (length > bytes.length - 8) lengthPastEnd = true;
      else notJson = true;
    }
    expect(lengthPastEnd && notJson).toBe(true);

    const [broken] = byKind('broken-symlink');
    const path = pathOf(dirA, broken as SampleEntry);
    expect(path.endsWith('.safetensors')).toBe(true);
    expect((await lstat(path)).isSymbolicLink()).toBe(true);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('uses odd names: spaces, unicode, both quotes, # and &, nested folders', () => {
    const paths = libA.entries.map((e) => e.relativePath);
    expect(paths).toContain('Lora/video/café ñ 日本.safetensors');
    expect(paths.some((p) => p.includes("'"))).toBe(true);
    expect(paths.some((p) => p.includes('"'))).toBe(true);
    expect(paths.some((p) => p.includes('#'))).toBe(true);
    expect(paths.some((p) => p.includes('&'))).toBe(true);
    expect(paths.some((p) => p.startsWith('Lora/SDXL/styles/'))).toBe(true);
    expect(paths.filter((p) => p.includes(' ')).length).toBeGreaterThan(3);
  });

  it('binds the versions the engine tests need', () => {
    const bound = libA.entries.filter((e) => e.binding);
    expect(bound.every((e) => e.kind === 'identified')).toBe(true);
    // LORA with a parent model fetchable via /models/:id; siblings of one model.
    const v15 = entryFor(libA, 1967584);
    const v1 = entryFor(libA, 1788945);
    expect(v15.binding?.modelId).toBe(1580878);
    expect(v1.binding?.modelId).toBe(1580878);
    expect(entryFor(libA, 127062).binding?.modelId).toBe(11821); // NSFW images
    expect(entryFor(libA, 1387174).binding?.modelId).toBe(1231067); // Flux, > 2 MiB
    expect(entryFor(libA, 1279184).binding?.modelId).toBe(1137571); // by-hash wire body, videos
    expect(entryFor(libA, 1805971).binding?.modelId).toBe(1595884); // checkpoint, model not in fixtures
    expect(entryFor(libA, 1292).binding?.modelId).toBe(1102); // checkpoint with VAE file
    expect(entryFor(libA, 1387174).size).toBeGreaterThan(2 * 1024 * 1024);
    expect(libA.entries.filter((e) => e.kind === 'unknown').length).toBeGreaterThanOrEqual(2);
    // Every bound file has distinct hashes.
    expect(new Set(bound.map((e) => e.sha256)).size).toBe(bound.length);
  });

  it('gives an input_paths layout that covers every file exactly once', () => {
    const inputs = sampleInputPaths(dirA);
    expect(Object.values(inputs).map((i) => i.type)).toEqual(['LORA', 'Checkpoint', 'TextualInversion']);
    for (const entry of libA.entries) {
      const full = pathOf(dirA, entry);
      const owners = Object.values(inputs).filter((i) => full.startsWith(i.path + sep));
      expect(owners, entry.relativePath).toHaveLength(1);
    }
    expect(inputs.embeddings?.patterns).toContain('*.pt');
  });
});
