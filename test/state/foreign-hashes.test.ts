import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readForeignHashes } from '../../src/integration/engine/scan/foreign-hashes.ts';

const SHA = 'ab'.repeat(32);
const SHA_UPPER = SHA.toUpperCase();
const OTHER_SHA = 'CD'.repeat(32);
const SIZE = 151_110_364;
const SIZE_KB = SIZE / 1024;

let dir: string;
let model: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-foreign-'));
  model = path.join(dir, 'myLora_v2.safetensors');
  await writeFile(model, 'pretend weights');
  // The model was downloaded an hour ago; sidecars are written after it (now).
  const past = new Date(Date.now() - 3600_000);
  await utimes(model, past, past);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const json = (name: string, value: unknown) => writeFile(path.join(dir, name), JSON.stringify(value));

function versionPayload(files: { sizeKB: number; hashes: Record<string, string>; name?: string }[]) {
  return { id: 10, modelId: 5, name: 'v2', files };
}

describe('readForeignHashes', () => {
  it('returns nothing when no tool left a sidecar', async () => {
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
  });

  it('takes files[].hashes of a .civitai.info when the file entry has our size', async () => {
    await json(
      'myLora_v2.civitai.info',
      versionPayload([
        { sizeKB: 12.5, hashes: { SHA256: OTHER_SHA } },
        {
          sizeKB: SIZE_KB,
          hashes: { AutoV1: '1A2B3C4D', AutoV2: SHA_UPPER.slice(0, 10), SHA256: SHA_UPPER, CRC32: 'DEADBEEF', BLAKE3: 'EF'.repeat(32), AutoV3: 'ABCDEF012345' },
        },
      ]),
    );
    const found = await readForeignHashes(model, SIZE);
    expect(found).toMatchObject({ source: 'civitai.info', sizeChecked: true });
    expect(found?.hashes).toEqual({
      SHA256: SHA_UPPER,
      AutoV2: SHA_UPPER.slice(0, 10),
      AutoV1: '1A2B3C4D',
      CRC32: 'DEADBEEF',
      BLAKE3: 'EF'.repeat(32),
      AutoV3: 'ABCDEF012345',
    });
  });

  it('rejects a .civitai.info whose files have another size (the model was replaced or edited)', async () => {
    await json('myLora_v2.civitai.info', versionPayload([{ sizeKB: SIZE_KB + 1, hashes: { SHA256: SHA_UPPER } }]));
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
  });

  it('ignores the empty .civitai.info Civitai Helper writes for unknown models', async () => {
    await json('myLora_v2.civitai.info', {});
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
  });

  it('takes sha256 of a Lora Manager .metadata.json when its size matches, plus the API hashes of that file', async () => {
    await json('myLora_v2.metadata.json', {
      file_name: 'myLora_v2',
      size: SIZE,
      sha256: SHA,
      hash_status: 'completed',
      autov3: '000000000000',
      civitai: versionPayload([{ sizeKB: SIZE_KB, hashes: { SHA256: SHA_UPPER, BLAKE3: 'EF'.repeat(32) } }]),
    });
    const found = await readForeignHashes(model, SIZE);
    expect(found).toMatchObject({ source: 'lora-manager', sizeChecked: true });
    // The header-derived `autov3` is not a hash LM computed: it is not taken.
    expect(found?.hashes).toEqual({ SHA256: SHA_UPPER, AutoV2: SHA_UPPER.slice(0, 10), BLAKE3: 'EF'.repeat(32) });
  });

  it('rejects a Lora Manager sidecar with another size or a pending hash', async () => {
    await json('myLora_v2.metadata.json', { size: SIZE - 1, sha256: SHA });
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
    await json('myLora_v2.metadata.json', { size: SIZE, sha256: '', hash_status: 'pending' });
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
  });

  it('takes Hashes of a StabilityMatrix .cm-info.json written after the model', async () => {
    await json('myLora_v2.cm-info.json', { ModelId: 5, VersionId: 10, Hashes: { SHA256: SHA, CRC32: 'DEADBEEF', BLAKE3: 'ef'.repeat(32) } });
    const found = await readForeignHashes(model, SIZE);
    expect(found).toMatchObject({ source: 'stability-matrix', sizeChecked: false });
    expect(found?.hashes).toEqual({ SHA256: SHA_UPPER, AutoV2: SHA_UPPER.slice(0, 10), CRC32: 'DEADBEEF', BLAKE3: 'EF'.repeat(32) });
  });

  it('distrusts a sidecar without a size that is older than the model file', async () => {
    await json('myLora_v2.cm-info.json', { Hashes: { SHA256: SHA } });
    const older = new Date(Date.now() - 7200_000);
    await utimes(path.join(dir, 'myLora_v2.cm-info.json'), older, older);
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
    await utimes(path.join(dir, 'myLora_v2.cm-info.json'), new Date(), new Date());
    expect(await readForeignHashes(model, SIZE, { allowUnsized: false })).toBeUndefined();
    expect((await readForeignHashes(model, SIZE))?.hashes.SHA256).toBe(SHA_UPPER);
  });

  it('takes sha256 of a CivitAI Browser+ .json (A1111 user metadata)', async () => {
    await json('myLora_v2.json', { 'activation text': 'trigger', 'preferred weight': 0.8, sha256: SHA, modelId: 5 });
    const found = await readForeignHashes(model, SIZE);
    expect(found).toMatchObject({ source: 'civitai-browser', sizeChecked: false, hashes: { SHA256: SHA_UPPER } });
  });

  it('takes our own sidecar when its recorded size matches, also at a configured path', async () => {
    const own = { id: 10, modelId: 5, files: [], civitscraper: { format: 1, file: { name: 'myLora_v2.safetensors', size: SIZE, mtimeMs: 1 }, hashes: { SHA256: SHA_UPPER, CRC32: 'DEADBEEF' } } };
    await mkdir(path.join(dir, 'meta'));
    const elsewhere = path.join(dir, 'meta', 'myLora_v2.civitai.json');
    await writeFile(elsewhere, JSON.stringify(own));
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
    const found = await readForeignHashes(model, SIZE, { ownSidecars: [elsewhere] });
    expect(found).toMatchObject({ source: 'civitscraper', sizeChecked: true, hashes: { SHA256: SHA_UPPER, CRC32: 'DEADBEEF' } });
    expect(await readForeignHashes(model, SIZE + 1, { ownSidecars: [elsewhere] })).toBeUndefined();
  });

  it('takes a seed CivitScraper sidecar (raw version body) by its files[].sizeKB', async () => {
    await json('myLora_v2.json', versionPayload([{ sizeKB: SIZE_KB, hashes: { SHA256: SHA_UPPER } }]));
    expect(await readForeignHashes(model, SIZE)).toMatchObject({ source: 'civitscraper-seed', sizeChecked: true });
    expect(await readForeignHashes(model, SIZE + 4096)).toBeUndefined();
  });

  it('merges agreeing sidecars and uses none when size-checked ones disagree', async () => {
    await json('myLora_v2.metadata.json', { size: SIZE, sha256: SHA });
    await json('myLora_v2.cm-info.json', { Hashes: { SHA256: SHA, BLAKE3: 'EF'.repeat(32) } });
    const merged = await readForeignHashes(model, SIZE);
    expect(merged?.source).toBe('lora-manager');
    expect(merged?.hashes.BLAKE3).toBe('EF'.repeat(32));
    expect(merged?.sidecars.map((file) => path.basename(file))).toEqual(['myLora_v2.metadata.json', 'myLora_v2.cm-info.json']);

    // An unsized sidecar that disagrees with a size-checked one is outvoted.
    await json('myLora_v2.cm-info.json', { Hashes: { SHA256: OTHER_SHA } });
    expect((await readForeignHashes(model, SIZE))?.hashes.SHA256).toBe(SHA_UPPER);

    // Two size-checked sidecars that disagree: one describes another file, trust neither.
    await json('myLora_v2.civitai.info', versionPayload([{ sizeKB: SIZE_KB, hashes: { SHA256: OTHER_SHA } }]));
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
  });

  it("takes the digest of ComfyUI-Custom-Scripts' <stem>.sha256 written after the model, so the file is not read", async () => {
    // What Custom-Scripts writes: the bare lower-case hex digest, no newline.
    await writeFile(path.join(dir, 'myLora_v2.sha256'), SHA);
    const found = await readForeignHashes(model, SIZE);
    expect(found).toMatchObject({ source: 'sha256-file', sizeChecked: false, hashes: { SHA256: SHA_UPPER, AutoV2: SHA_UPPER.slice(0, 10) } });
    expect(found?.sidecars.map((file) => path.basename(file))).toEqual(['myLora_v2.sha256']);
    // Written before the model changed: the model may have been replaced since.
    const older = new Date(Date.now() - 7200_000);
    await utimes(path.join(dir, 'myLora_v2.sha256'), older, older);
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
  });

  it('takes a sha256sum line in <file name>.sha256 only when it names this file', async () => {
    const sidecar = path.join(dir, 'myLora_v2.safetensors.sha256');
    await writeFile(sidecar, `${SHA}  myLora_v2.safetensors\n`);
    expect((await readForeignHashes(model, SIZE))?.hashes.SHA256).toBe(SHA_UPPER);
    await writeFile(sidecar, `${SHA} *myLora_v2.safetensors\r\n`);
    expect((await readForeignHashes(model, SIZE))?.hashes.SHA256).toBe(SHA_UPPER);
    await writeFile(sidecar, `${SHA}  other_model.safetensors\n`);
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
    await writeFile(sidecar, 'not a digest\n');
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
  });

  it('trusts no .sha256 that disagrees with another unsized sidecar, and lets a size-checked one outvote it', async () => {
    await writeFile(path.join(dir, 'myLora_v2.sha256'), OTHER_SHA.toLowerCase());
    await json('myLora_v2.cm-info.json', { Hashes: { SHA256: SHA } });
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
    await json('myLora_v2.civitai.info', versionPayload([{ sizeKB: SIZE_KB, hashes: { SHA256: SHA_UPPER } }]));
    expect(await readForeignHashes(model, SIZE)).toMatchObject({ source: 'civitai.info', hashes: { SHA256: SHA_UPPER } });
  });

  it('skips malformed sidecars and malformed hashes', async () => {
    await writeFile(path.join(dir, 'myLora_v2.metadata.json'), '{ not json');
    await json('myLora_v2.cm-info.json', { Hashes: { SHA256: 'not-a-hash' } });
    await json('myLora_v2.civitai.info', versionPayload([{ sizeKB: SIZE_KB, hashes: { SHA256: SHA_UPPER, AutoV2: 'FFFFFFFFFF' } }]));
    expect(await readForeignHashes(model, SIZE)).toBeUndefined();
  });
});
