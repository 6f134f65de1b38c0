import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { crc32ToCivitai, hashFile } from '../src/integration/engine/scan/hash.ts';
import { readSafetensorsHeader } from '../src/integration/engine/scan/safetensors.ts';
import { crc32 } from 'node:zlib';

const ALL = ['SHA256', 'AutoV2', 'AutoV1', 'AutoV3', 'BLAKE3', 'CRC32'] as const;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-hash-'));
});

function safetensors(metadata: Record<string, string>, tensorBytes: Buffer): Buffer {
  const header = Buffer.from(
    JSON.stringify({ __metadata__: metadata, w: { dtype: 'U8', shape: [tensorBytes.length], data_offsets: [0, tensorBytes.length] } }),
  );
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, tensorBytes]);
}

describe('hashFile', () => {
  it('matches the known CivitAI hashes of "hello world"', async () => {
    const file = path.join(dir, 'hello.bin');
    await writeFile(file, 'hello world');
    const { hashes, bytesRead } = await hashFile(file, { types: ALL });
    expect(bytesRead).toBe(11);
    expect(hashes).toEqual({
      SHA256: 'B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9',
      AutoV2: 'B94D27B993',
      BLAKE3: 'D74981EFA70A0C880B8D8C1985D075DBCBF679B99A5F9914E5AAF96B831A9E24',
      CRC32: '85114A0D',
    });
  });

  it('computes AutoV1 from 64 KiB at offset 1 MiB for files of 2 MiB or more', async () => {
    const bytes = Buffer.alloc(0x200000 + 123);
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = (i * 31) % 251;
    const file = path.join(dir, 'big.ckpt');
    await writeFile(file, bytes);
    const { hashes } = await hashFile(file, { types: ALL });
    const expected = createHash('sha256').update(bytes.subarray(0x100000, 0x110000)).digest('hex').slice(0, 8).toUpperCase();
    expect(hashes.AutoV1).toBe(expected);
    expect(hashes.SHA256).toBe(createHash('sha256').update(bytes).digest('hex').toUpperCase());
    expect(hashes.AutoV3).toBeUndefined();
  });

  it('keeps AutoV3 when only the safetensors header changes', async () => {
    const tensors = Buffer.from('tensor-data-'.repeat(1000));
    const a = path.join(dir, 'a.safetensors');
    const b = path.join(dir, 'b.safetensors');
    await writeFile(a, safetensors({ ss_output_name: 'a' }, tensors));
    await writeFile(b, safetensors({ ss_output_name: 'a much longer rewritten header', extra: 'x' }, tensors));
    const hashOf = async (file: string) => {
      const header = await readSafetensorsHeader(file);
      return (await hashFile(file, { types: ALL, tensorOffset: 8 + header.headerLength })).hashes;
    };
    const [ha, hb] = await Promise.all([hashOf(a), hashOf(b)]);
    expect(ha.SHA256).not.toBe(hb.SHA256);
    expect(ha.AutoV3).toBe(hb.AutoV3);
    expect(ha.AutoV3).toBe(createHash('sha256').update(tensors).digest('hex').slice(0, 12).toUpperCase());
  });

  it('writes CRC32 in CivitAI byte order', () => {
    expect(crc32ToCivitai(crc32('hello world'))).toBe('85114A0D');
  });
});

describe('readSafetensorsHeader', () => {
  it('reads __metadata__ strings and counts tensors', async () => {
    const file = path.join(dir, 'meta.safetensors');
    await writeFile(file, safetensors({ ss_base_model_version: 'sdxl_base_v1-0' }, Buffer.alloc(16)));
    const header = await readSafetensorsHeader(file);
    expect(header.metadata).toEqual({ ss_base_model_version: 'sdxl_base_v1-0' });
    expect(header.tensorCount).toBe(1);
  });

  it('rejects empty, truncated and corrupt files with a clear message', async () => {
    const empty = path.join(dir, 'empty.safetensors');
    await writeFile(empty, '');
    await expect(readSafetensorsHeader(empty)).rejects.toThrow('empty file');

    const huge = path.join(dir, 'huge.safetensors');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(2n ** 60n);
    await writeFile(huge, Buffer.concat([length, Buffer.from('{}')]));
    await expect(readSafetensorsHeader(huge)).rejects.toThrow(/claims \d+ header bytes/);

    const notJson = path.join(dir, 'bad.safetensors');
    const short = Buffer.alloc(8);
    short.writeBigUInt64LE(4n);
    await writeFile(notJson, Buffer.concat([short, Buffer.from('nope')]));
    await expect(readSafetensorsHeader(notJson)).rejects.toThrow('not valid JSON');
  });
});
