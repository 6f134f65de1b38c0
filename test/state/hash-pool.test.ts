import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBLAKE3 } from 'hash-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HashType } from '../../src/integration/engine/records/schema.ts';
import { blake3Backend, createBlake3, hashFile } from '../../src/integration/engine/scan/hash.ts';
import { createHashPool, hashMany, type HashJob, type HashPool } from '../../src/integration/engine/scan/hash-pool.ts';

const ALL: readonly HashType[] = ['SHA256', 'AutoV2', 'AutoV1', 'AutoV3', 'BLAKE3', 'CRC32'];
const MiB = 1024 * 1024;
let dir: string;
let jobs: HashJob[];
let big: HashJob;
const pools: HashPool[] = [];

function pool(options: Parameters<typeof createHashPool>[0] = {}): HashPool {
  const created = createHashPool(options);
  pools.push(created);
  return created;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-pool-'));
  // Mixed sizes: empty, tiny, around the AutoV1 threshold, and several read chunks long.
  const sizes = [0, 1, 11, 4096, 65_537, 2 * MiB - 1, 2 * MiB, 3 * MiB + 5, 9 * MiB + 7, 17 * MiB + 3];
  for (let i = 0; i < 24; i += 1) sizes.push(1000 + i * 7919);
  jobs = [];
  for (const [index, size] of sizes.entries()) {
    const file = path.join(dir, `model-${index}.bin`);
    await writeFile(file, randomBytes(size));
    // Every fifth file pretends to be safetensors with tensor data after a 100-byte header.
    jobs.push({ path: file, types: ALL, size, tensorOffset: index % 5 === 0 && size > 100 ? 100 : undefined });
  }
  const bigFile = path.join(dir, 'big.bin');
  await writeFile(bigFile, randomBytes(48 * MiB));
  big = { path: bigFile, types: ALL, size: 48 * MiB };
});

afterAll(async () => {
  await Promise.all(pools.map((each) => each.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('hash pool', () => {
  it('starts worker threads when loaded through Vite (vitest), with the BLAKE3 backend of this process', async () => {
    const ready = await pool({ threads: 2 }).ready();
    expect(ready.mode).toBe('workers');
    expect(ready.blake3).toBe(blake3Backend());
  });

  it('gives exactly what hashFile gives, for many files of mixed sizes', async () => {
    const p = pool({ threads: 3, largeFileBytes: 2 * MiB });
    const outcomes = await hashMany(p, [...jobs, big]);
    for (const outcome of outcomes) {
      expect(outcome.error).toBeUndefined();
      const expected = await hashFile(outcome.job.path, { types: ALL, tensorOffset: outcome.job.tensorOffset });
      expect(outcome.result?.hashes).toEqual(expected.hashes);
      expect(outcome.result?.bytesRead).toBe(outcome.job.size);
      expect(outcome.result?.identity).toEqual(expected.identity);
    }
    expect(p.stats.files).toBe(jobs.length + 1);
    expect(p.stats.bytesRead).toBe(jobs.reduce((sum, job) => sum + (job.size ?? 0), 0) + 48 * MiB);
  });

  it('gives the same results when hashing on the calling thread', async () => {
    const p = pool({ mode: 'in-thread', threads: 4 });
    expect((await p.ready()).mode).toBe('in-thread');
    const outcomes = await hashMany(p, jobs.slice(0, 12));
    for (const outcome of outcomes) {
      const expected = await hashFile(outcome.job.path, { types: ALL, tensorOffset: outcome.job.tensorOffset });
      expect(outcome.result?.hashes).toEqual(expected.hashes);
    }
  });

  it('hashes a first batch of a few small files on this thread, and starts the threads once more work arrives', async () => {
    const debug: string[] = [];
    const logger = { debug: (message: string) => debug.push(message), info: () => {}, warn: () => {}, error: () => {} };
    // No `threads`: the pool decides when the threads are worth starting.
    const p = pool({ logger });
    const tiny = jobs.filter((job) => (job.size ?? 0) < 65_537).slice(0, 8);
    for (const outcome of await hashMany(p, tiny)) {
      const expected = await hashFile(outcome.job.path, { types: ALL, tensorOffset: outcome.job.tensorOffset });
      expect(outcome.result?.hashes).toEqual(expected.hashes);
    }
    expect(debug.some((line) => line.includes(`small files, hashed on this thread`))).toBe(true);
    expect(debug.some((line) => /hash pool: \d+ worker threads/.test(line))).toBe(false);
    // 48 MiB and an unknown size are past what this thread takes on: the threads start for them.
    const more = [big, { ...(jobs[3] as HashJob), size: undefined }];
    for (const outcome of await hashMany(p, more)) {
      const expected = await hashFile(outcome.job.path, { types: ALL, tensorOffset: outcome.job.tensorOffset });
      expect(outcome.result?.hashes).toEqual(expected.hashes);
    }
    expect(debug.some((line) => /hash pool: \d+ worker threads/.test(line))).toBe(true);
    expect(p.stats.files).toBe(tiny.length + more.length);
    // A count of threads given has them from the first file.
    const counted: string[] = [];
    await hashMany(pool({ threads: 1, logger: { ...logger, debug: (message: string) => counted.push(message) } }), tiny.slice(0, 2));
    expect(counted.some((line) => /hash pool: 1 worker threads/.test(line))).toBe(true);
  });

  it('Ctrl-C cancels the files still hashing on this thread after the threads took over', async () => {
    const controller = new AbortController();
    const p = pool({ signal: controller.signal });
    // 17 MiB fits on this thread; 48 MiB more does not, so the threads start while it is read.
    const small = p.hash(jobs[9] as HashJob);
    await new Promise((resolve) => setImmediate(resolve));
    const large = p.hash(big);
    controller.abort(new DOMException('interrupted', 'AbortError'));
    await expect(small).rejects.toMatchObject({ name: 'AbortError' });
    await expect(large).rejects.toMatchObject({ name: 'AbortError' });
    await p.close();
  });

  it('does not make small files wait behind a large one', async () => {
    // One thread: the single lane prefers small files, so the large file goes last.
    const order: string[] = [];
    const p = pool({ threads: 1, largeFileBytes: 8 * MiB });
    const submitted = [big, ...jobs.slice(10, 16)];
    await hashMany(p, submitted, { onResult: (outcome) => order.push(outcome.job.path) });
    expect(order.at(-1)).toBe(big.path);
    // Small files come smallest first.
    const sizes = order.slice(0, -1).map((file) => submitted.find((job) => job.path === file)?.size ?? 0);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
  });

  it('keeps one lane for large files and the others for small ones, saving small ones for the end', async () => {
    const order: string[] = [];
    const p = pool({ threads: 2, largeFileBytes: 32 * MiB });
    const bigTwin = { ...big };
    // 48 files of 9 MiB: many more small bytes than one large file, so that the large-file lane
    // finishing last would take a thread starved for most of the run (the whole suite runs beside
    // this on 2 cores; with 24 it happened once).
    const small = Array.from({ length: 48 }, () => ({ ...(jobs[8] as HashJob) }));
    const outcomes: HashJob[] = [];
    await hashMany(p, [big, bigTwin, ...small], {
      onResult: (outcome) => {
        order.push(outcome.job.path);
        outcomes.push(outcome.job);
      },
    });
    // The second lane starts on small files instead of waiting behind the other large one …
    expect(outcomes[0]).not.toBe(big);
    expect(outcomes[0]).not.toBe(bigTwin);
    // … and small files are left for the end, where they keep both threads busy.
    expect(small).toContain(outcomes.at(-1));
  });

  it('cancels queued and running jobs with the abort reason, and stays usable', async () => {
    const p = pool({ threads: 1 });
    const controller = new AbortController();
    const running = p.hash(big, { signal: controller.signal });
    const queued = p.hash(jobs[3] as HashJob, { signal: controller.signal });
    const other = p.hash(jobs[4] as HashJob);
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    // Jobs that were not cancelled still complete, and new ones run.
    await expect(other).resolves.toMatchObject({ bytesRead: jobs[4]?.size });
    await expect(p.hash(jobs[5] as HashJob)).resolves.toMatchObject({ bytesRead: jobs[5]?.size });
  });

  it('cancels everything when the pool signal aborts (Ctrl-C) and refuses new work', async () => {
    const controller = new AbortController();
    const p = pool({ threads: 2, signal: controller.signal });
    await p.ready();
    const pending = [big, big, ...jobs.slice(0, 5)].map((job) => p.hash(job));
    controller.abort(new DOMException('interrupted', 'AbortError'));
    const settled = await Promise.allSettled(pending);
    expect(settled.every((each) => each.status === 'rejected')).toBe(true);
    await expect(p.hash(jobs[1] as HashJob)).rejects.toMatchObject({ name: 'AbortError' });
    await p.close();
  });

  it('computes only the requested types, each the same as in a full run', async () => {
    const job = jobs[8] as HashJob;
    const full = (await hashFile(job.path, { types: ALL })).hashes;
    for (const type of ALL) {
      const only = (await hashFile(job.path, { types: [type], tensorOffset: 100 })).hashes;
      if (type === 'AutoV3') expect(Object.keys(only)).toEqual(['AutoV3']);
      else expect(only).toEqual({ [type]: full[type] });
    }
  });

  it('stops an in-thread hash between two reads when cancelled', async () => {
    const controller = new AbortController();
    const running = hashFile(big.path, { types: ALL, signal: controller.signal });
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('reports missing files and errors of the worker thread as errors of that job', async () => {
    const p = pool({ threads: 2 });
    const outcomes = await hashMany(p, [{ path: path.join(dir, 'missing.bin'), types: ALL }, jobs[2] as HashJob]);
    expect(outcomes[0]?.error).toMatchObject({ code: 'ENOENT' });
    expect(outcomes[1]?.result?.bytesRead).toBe(11);
  });

  it('closes cleanly however the threads\' answers to a cancel race with close() (no exit 13)', async () => {
    // Ctrl-C once left Node with nothing keeping it alive while terminate() was pending.
    const child = fileURLToPath(new URL('./pool-close-child.ts', import.meta.url));
    for (let round = 0; round < 3; round += 1) {
      for (const waitMs of [0, 1, 2, 3, 5]) {
        const result = spawnSync(process.execPath, [child, big.path, String(waitMs)], { encoding: 'utf8', timeout: 60_000 });
        expect({ waitMs, status: result.status, stdout: result.stdout, stderr: result.stderr }).toMatchObject({ status: 0, stdout: 'closed\n' });
      }
    }
  });

  it('rejects jobs after close', async () => {
    const p = pool({ threads: 1 });
    await p.close();
    await expect(p.hash(jobs[1] as HashJob)).rejects.toThrow('closed');
  });
});

describe('BLAKE3 backends', () => {
  it('native and hash-wasm agree, whatever the chunking', async () => {
    const data = randomBytes(3 * MiB + 12345);
    const reference = await createBLAKE3();
    reference.init();
    reference.update(data);
    const expected = reference.digest('hex');
    for (const backend of ['native', 'wasm'] as const) {
      if (backend === 'native' && blake3Backend() !== 'native') continue;
      const hasher = await createBlake3(backend);
      for (let offset = 0; offset < data.length; offset += 1_000_003) hasher.update(data.subarray(offset, offset + 1_000_003));
      expect(hasher.digestHex()).toBe(expected);
    }
  });

  it('uses the native one exactly when @napi-rs/blake-hash is installed, hash-wasm otherwise', () => {
    // Not a dependency: its unpublished platform packages break `npm ci`; users may add it.
    let installed = true;
    try {
      createRequire(import.meta.url).resolve('@napi-rs/blake-hash');
    } catch {
      installed = false;
    }
    expect(blake3Backend()).toBe(installed ? 'native' : 'wasm');
  });
});
