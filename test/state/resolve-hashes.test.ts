import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HashType } from '../../src/integration/engine/records/schema.ts';
import { toDiscoveredFile, type DiscoveredFile } from '../../src/integration/engine/scan/discover.ts';
import { hashFile } from '../../src/integration/engine/scan/hash.ts';
import { createHashPool } from '../../src/integration/engine/scan/hash-pool.ts';
import { readSafetensorsHeader } from '../../src/integration/engine/scan/safetensors.ts';
import { openStateStore, resolveHashes, type StateStore } from '../../src/integration/engine/state/index.ts';

const TYPES: readonly HashType[] = ['SHA256', 'AutoV2', 'AutoV1', 'AutoV3', 'CRC32', 'BLAKE3'];
const pool = createHashPool({ threads: 2 });
let root: string;
let store: StateStore;

async function discovered(file: string): Promise<DiscoveredFile> {
  return toDiscoveredFile(file, root, 'loras', 'LORA', await stat(file));
}

/** Writes a model file whose mtime is in the past (as a finished download's is). */
async function model(relative: string, bytes: Buffer): Promise<string> {
  const file = path.join(root, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
  const past = new Date(Date.now() - 3600_000);
  await utimes(file, past, past);
  return file;
}

function safetensors(tensorBytes: Buffer): Buffer {
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'U8', shape: [tensorBytes.length], data_offsets: [0, tensorBytes.length] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, tensorBytes]);
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cs-resolve-'));
  store = openStateStore(path.join(root, '.cache'));
});

afterEach(async () => {
  store.close();
  await rm(root, { recursive: true, force: true });
});
afterAll(() => pool.close());

describe('resolveHashes', () => {
  it('reads every file once; a second run reads 0 bytes and gives the same hashes', async () => {
    const paths: string[] = [];
    for (let i = 0; i < 12; i += 1) paths.push(await model(`a/lora-${i}.safetensors`, safetensors(randomBytes(1000 + i * 50_000))));
    paths.push(await model('b/old.ckpt', randomBytes(3 * 1024 * 1024)));
    const files = await Promise.all(paths.map(discovered));

    const first = await resolveHashes(files, { types: TYPES, pool, store });
    expect(first.failed.size).toBe(0);
    expect(first.counts).toEqual({ ledger: 0, sidecar: 0, read: 13 });
    expect(first.bytesRead).toBe(files.reduce((sum, file) => sum + file.size, 0));
    const header = await readSafetensorsHeader(paths[3] as string);
    const direct = await hashFile(paths[3] as string, { types: TYPES, tensorOffset: 8 + header.headerLength });
    expect(first.resolved.get(paths[3] as string)?.hashes).toEqual(direct.hashes);
    expect(first.resolved.get(paths[3] as string)?.hashes.AutoV3).toBeDefined();

    // A new process: reopen the store.
    store.close();
    store = openStateStore(path.join(root, '.cache'));
    const second = await resolveHashes(files, { types: TYPES, pool, store });
    expect(second.bytesRead).toBe(0);
    expect(second.counts).toEqual({ ledger: 13, sidecar: 0, read: 0 });
    for (const file of files) expect(second.resolved.get(file.path)?.hashes).toEqual(first.resolved.get(file.path)?.hashes);
  });

  it('does not re-hash a file renamed or moved within the tree', async () => {
    const original = await model('a/style.safetensors', safetensors(randomBytes(200_000)));
    const first = await resolveHashes([await discovered(original)], { types: TYPES, pool, store });
    await mkdir(path.join(root, 'sorted/SDXL'), { recursive: true });
    const moved = path.join(root, 'sorted/SDXL/style-renamed.safetensors');
    await rename(original, moved);

    const second = await resolveHashes([await discovered(moved)], { types: TYPES, pool, store });
    expect(second.bytesRead).toBe(0);
    expect(second.resolved.get(moved)).toMatchObject({ source: 'ledger', hashes: first.resolved.get(original)?.hashes });
    // The ledger now knows the new path.
    const now = await stat(moved);
    expect(store.ledger.lookupByPath(moved, now.size, now.mtimeMs)).toBeDefined();
  });

  it('re-hashes a file whose content changed', async () => {
    const file = await model('a/changing.ckpt', randomBytes(100_000));
    const first = await resolveHashes([await discovered(file)], { types: TYPES, pool, store });
    await model('a/changing.ckpt', randomBytes(100_000));
    const second = await resolveHashes([await discovered(file)], { types: TYPES, pool, store });
    expect(second.counts.read).toBe(1);
    expect(second.bytesRead).toBe(100_000);
    expect(second.resolved.get(file)?.hashes.SHA256).not.toBe(first.resolved.get(file)?.hashes.SHA256);
  });

  it('seeds hashes from another tool’s sidecar instead of reading the file, and remembers them', async () => {
    const file = await model('a/seeded.safetensors', safetensors(randomBytes(5000)));
    const { size } = await stat(file);
    const sha = 'AB'.repeat(32);
    await writeFile(path.join(root, 'a/seeded.metadata.json'), JSON.stringify({ size, sha256: sha.toLowerCase() }));
    const first = await resolveHashes([await discovered(file)], { types: TYPES, pool, store });
    expect(first.bytesRead).toBe(0);
    expect(first.resolved.get(file)).toMatchObject({ source: 'lora-manager', hashes: { SHA256: sha } });
    const second = await resolveHashes([await discovered(file)], { types: TYPES, pool, store, seedFromSidecars: false });
    expect(second.resolved.get(file)?.source).toBe('ledger');

    // With a size mismatch the sidecar is ignored and the file is read.
    const other = await model('a/mismatch.safetensors', safetensors(randomBytes(5000)));
    await writeFile(path.join(root, 'a/mismatch.metadata.json'), JSON.stringify({ size: size + 1, sha256: sha }));
    const third = await resolveHashes([await discovered(other)], { types: TYPES, pool, store });
    expect(third.resolved.get(other)?.source).toBe('read');
    expect(third.resolved.get(other)?.hashes.SHA256).not.toBe(sha);
  });

  it('reads a file again when the ledger entry lacks a required hash type', async () => {
    const file = await model('a/partial.safetensors', safetensors(randomBytes(5000)));
    const info = await discovered(file);
    store.ledger.remember(info, file, { SHA256: 'AB'.repeat(32) }, { source: 'stability-matrix' });
    const result = await resolveHashes([info], { types: TYPES, pool, store, required: ['SHA256', 'BLAKE3'] });
    expect(result.resolved.get(file)?.source).toBe('read');
    expect(store.ledger.lookup(info)?.hashes.BLAKE3).toBeDefined();
  });

  it('reports unreadable and empty files as failures of those files only', async () => {
    const good = await model('a/good.ckpt', randomBytes(1000));
    const empty = await model('a/empty.ckpt', Buffer.alloc(0));
    const broken = await model('a/broken.safetensors', Buffer.from('nonsense'));
    const result = await resolveHashes(await Promise.all([good, empty, broken].map(discovered)), { types: TYPES, pool, store });
    expect(result.resolved.has(good)).toBe(true);
    expect(String(result.failed.get(empty))).toMatch(/empty file/);
    expect(String(result.failed.get(broken))).toMatch(/safetensors/);
  });

  it('stops when the signal aborts and remembers nothing it did not finish', async () => {
    const file = await model('a/big.ckpt', randomBytes(32 * 1024 * 1024));
    const controller = new AbortController();
    controller.abort();
    const result = await resolveHashes([await discovered(file)], { types: TYPES, pool, store, signal: controller.signal });
    expect(result.failed.get(file)).toMatchObject({ name: 'AbortError' });
    expect(store.ledger.count()).toBe(0);
  });
});
