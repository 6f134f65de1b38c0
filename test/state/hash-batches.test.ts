/**
 * The first run over many tiny files (issue #14): tiny files go to the hash threads many to a
 * message, what is read is remembered a batch per transaction, other tools' sidecars are looked
 * for in one listing per folder, and a header is read with blocking calls while they are fast.
 * Each must give what one file at a time gave.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HashType } from '../../src/integration/engine/records/schema.ts';
import { toDiscoveredFile, type DiscoveredFile } from '../../src/integration/engine/scan/discover.ts';
import { folderNames, readForeignHashes } from '../../src/integration/engine/scan/foreign-hashes.ts';
import { hashFile } from '../../src/integration/engine/scan/hash.ts';
import { createHashPool, hashMany, type HashJob, type HashPool } from '../../src/integration/engine/scan/hash-pool.ts';
import { readSafetensorsHeader } from '../../src/integration/engine/scan/safetensors.ts';
import { openStateStore, resolveHashes } from '../../src/integration/engine/state/index.ts';

const ALL: readonly HashType[] = ['SHA256', 'AutoV2', 'AutoV1', 'AutoV3', 'BLAKE3', 'CRC32'];
const TINY = 600;
let dir: string;
let tiny: HashJob[];
const pools: HashPool[] = [];

function pool(threads = 2): HashPool {
  const created = createHashPool({ threads });
  pools.push(created);
  return created;
}

function safetensors(header: object, data: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-batches-'));
  await mkdir(path.join(dir, 'tiny'));
  tiny = [];
  const past = new Date(Date.now() - 3600_000);
  for (let index = 0; index < TINY; index += 1) {
    const file = path.join(dir, 'tiny', `model-${index}.safetensors`);
    const data = randomBytes(50 + (index % 97) * 13);
    await writeFile(file, safetensors({ w: { dtype: 'U8', shape: [data.length], data_offsets: [0, data.length] } }, data));
    await utimes(file, past, past);
    tiny.push({ path: file, types: ALL, size: (await stat(file)).size, tensorOffset: index % 3 === 0 ? 40 : undefined });
  }
});

afterAll(async () => {
  await Promise.all(pools.map((each) => each.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('tiny files on the hash threads', () => {
  it('go many to a message and hash exactly as one at a time, a 1 MiB file among them on its own', async () => {
    const large = path.join(dir, 'one-mib.bin');
    await writeFile(large, randomBytes(1024 * 1024));
    const p = pool();
    const outcomes = await hashMany(p, [...tiny, { path: large, types: ALL, size: 1024 * 1024 }]);
    for (const outcome of outcomes) {
      expect(outcome.error).toBeUndefined();
      const expected = await hashFile(outcome.job.path, { types: ALL, tensorOffset: outcome.job.tensorOffset });
      expect(outcome.result?.hashes).toEqual(expected.hashes);
      expect(outcome.result?.identity).toEqual(expected.identity);
    }
    expect(p.stats.files).toBe(TINY + 1);
    // One message per file was TINY + 1 of them.
    expect(p.stats.messages).toBeGreaterThanOrEqual(Math.ceil(TINY / 64) + 1);
    expect(p.stats.messages).toBeLessThanOrEqual(30);
  });

  it('fail one by one: a missing file or a folder in a batch fails alone, the rest of it is hashed', async () => {
    const folder = path.join(dir, 'a-folder.safetensors');
    await mkdir(folder, { recursive: true });
    const bad: HashJob[] = [
      { path: path.join(dir, 'gone.safetensors'), types: ALL, size: 100 },
      { path: folder, types: ALL, size: 100 },
    ];
    const jobs = [...tiny.slice(0, 40), ...bad, ...tiny.slice(40, 80)];
    const outcomes = await hashMany(pool(1), jobs);
    const failed = outcomes.filter((outcome) => outcome.error !== undefined);
    expect(failed.map((outcome) => outcome.job.path).sort()).toEqual(bad.map((job) => job.path).sort());
    expect((failed.find((outcome) => outcome.job.path === folder)?.error as Error).message).toMatch(/folder/);
    expect((failed.find((outcome) => outcome.job.path !== folder)?.error as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(outcomes.filter((outcome) => outcome.result).length).toBe(80);
  });

  it('are cancelled one by one: a job of a batch cancelled once the first result is in rejects alone', async () => {
    const p = pool(1);
    const controller = new AbortController();
    let first: (() => void) | undefined;
    const firstDone = new Promise<void>((resolve) => (first = resolve));
    const target = tiny[TINY - 1] as HashJob;
    const results = tiny.map((job) =>
      p.hash(job, job === target ? { signal: controller.signal } : {}).then(
        (result) => {
          first?.();
          return result;
        },
        (error: unknown) => error,
      ),
    );
    await firstDone;
    controller.abort(new DOMException('stopped', 'AbortError'));
    const settled = await Promise.all(results);
    const rejected = settled.filter((value) => value instanceof Error || value instanceof DOMException);
    // The target may have been hashed before the cancel arrived; no other job is touched by it.
    expect(rejected.length).toBeLessThanOrEqual(1);
    if (rejected.length === 1) expect(settled[TINY - 1]).toBe(rejected[0]);
    expect(settled.slice(0, TINY - 1).every((value) => !(value instanceof Error) && !(value instanceof DOMException))).toBe(true);
    // The pool is still usable.
    await expect(p.hash(tiny[0] as HashJob)).resolves.toMatchObject({ bytesRead: tiny[0]?.size });
  });

  it('stop at once when the pool signal aborts (Ctrl-C), and nothing after it is hashed', async () => {
    const controller = new AbortController();
    const p = createHashPool({ threads: 2, signal: controller.signal });
    pools.push(p);
    const outcomes = hashMany(p, tiny);
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new DOMException('Ctrl-C', 'AbortError'));
    const settled = await outcomes;
    const aborted = settled.filter((outcome) => (outcome.error as Error | undefined)?.name === 'AbortError');
    expect(aborted.length + settled.filter((outcome) => outcome.result).length).toBe(TINY);
    expect(aborted.length).toBeGreaterThan(TINY / 2);
    await expect(p.hash(tiny[0] as HashJob)).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('resolveHashes on many tiny files', () => {
  it('remembers every file read, in far fewer transactions than files, and a second run reads nothing', async () => {
    const root = path.join(dir, 'tiny');
    const files: DiscoveredFile[] = await Promise.all(tiny.map(async (job) => toDiscoveredFile(job.path, root, 'loras', 'LORA', await stat(job.path))));
    const cache = await mkdtemp(path.join(tmpdir(), 'cs-batches-store-'));
    try {
      let store = openStateStore(cache);
      let transactions = 0;
      const transaction = store.transaction.bind(store);
      store.transaction = (fn) => {
        transactions += 1;
        return transaction(fn);
      };
      const p = pool();
      const first = await resolveHashes(files, { types: ALL, pool: p, store });
      expect(first.counts).toEqual({ ledger: 0, sidecar: 0, read: TINY });
      expect(store.ledger.count()).toBe(TINY);
      expect(transactions).toBeLessThan(TINY / 10);
      for (const file of files.slice(0, 30)) {
        const header = await readSafetensorsHeader(file.path);
        const direct = await hashFile(file.path, { types: ALL, tensorOffset: 8 + header.headerLength });
        expect(first.resolved.get(file.path)?.hashes).toEqual(direct.hashes);
      }
      store.close();
      store = openStateStore(cache);
      const second = await resolveHashes(files, { types: ALL, pool: p, store });
      expect(second.counts).toEqual({ ledger: TINY, sidecar: 0, read: 0 });
      store.close();
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});

describe('sidecars looked for in a folder listing', () => {
  it('finds a sidecar the listing has, also under another case, and skips one it does not have', async () => {
    const folder = path.join(dir, 'listed');
    await mkdir(folder, { recursive: true });
    const model = path.join(folder, 'a.safetensors');
    await writeFile(model, randomBytes(2048));
    const past = new Date(Date.now() - 3600_000);
    await utimes(model, past, past);
    const sha = 'AB'.repeat(32);
    await writeFile(path.join(folder, 'a.sha256'), sha.toLowerCase());
    const names = await folderNames(folder);
    expect(names?.has('a.sha256')).toBe(true);
    const found = await readForeignHashes(model, 2048, { folderNames: names as Set<string> });
    expect(found).toMatchObject({ source: 'sha256-file', hashes: { SHA256: sha } });
    // Upper-case names in the listing are lower-cased: the stat they lead to decides.
    expect(await readForeignHashes(model, 2048, { folderNames: new Set(['A.SHA256'.toLowerCase()]) })).toMatchObject({ source: 'sha256-file' });
    // A listing taken before the sidecar existed: not looked for (the file is hashed instead).
    expect(await readForeignHashes(model, 2048, { folderNames: new Set(['a.safetensors']) })).toBeUndefined();
    expect(await folderNames(path.join(dir, 'no-such-folder'))).toBeUndefined();
  });
});

describe('readSafetensorsHeader with blocking reads', () => {
  it('reads a header longer than its first read, and refuses one the file cannot hold', async () => {
    const metadata = { ss_tag_frequency: 'x'.repeat(200_000), ss_base_model_version: 'sdxl_base_v1-0' };
    const file = path.join(dir, 'long-header.safetensors');
    const bytes = safetensors({ __metadata__: metadata, w: { dtype: 'U8', shape: [4], data_offsets: [0, 4] } }, Buffer.alloc(4));
    await writeFile(file, bytes);
    const header = await readSafetensorsHeader(file);
    expect(header.metadata).toEqual(metadata);
    expect(header.tensorCount).toBe(1);
    expect(8 + header.headerLength).toBe(bytes.length - 4);

    const truncated = path.join(dir, 'truncated-header.safetensors');
    await writeFile(truncated, bytes.subarray(0, 100_000));
    await expect(readSafetensorsHeader(truncated)).rejects.toThrow(/claims \d+ header bytes but the file has 99992/);

    const tooShort = path.join(dir, 'short.safetensors');
    await writeFile(tooShort, Buffer.alloc(5));
    await expect(readSafetensorsHeader(tooShort)).rejects.toThrow('too short to be a safetensors file (5 bytes)');
  });
});
