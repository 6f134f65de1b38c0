/**
 * Bulk work keeps a bounded number of files open (OPEN_FILES_LIMIT): the header reads before
 * the hash pool, other tools' sidecars, and any burst of safetensors header reads. The figure
 * that matters is the most file descriptors open at once, sampled from /proc/self/fd.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toDiscoveredFile, type DiscoveredFile } from '../../src/integration/engine/scan/discover.ts';
import type { HashPool } from '../../src/integration/engine/scan/hash-pool.ts';
import { readForeignHashes } from '../../src/integration/engine/scan/foreign-hashes.ts';
import { OPEN_FILES_LIMIT, readSafetensorsHeader } from '../../src/integration/engine/scan/safetensors.ts';
import { resolveHashes } from '../../src/integration/engine/state/index.ts';

const FILES = 1500;
let root: string;
let files: DiscoveredFile[];

function tinySafetensors(seed: number): Buffer {
  const data = createHash('sha256').update(`bounded ${seed}`).digest();
  const header = Buffer.from(JSON.stringify({ __metadata__: { seed: String(seed) }, w: { dtype: 'U8', shape: [32], data_offsets: [0, 32] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, data]);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cs-bounded-'));
  await mkdir(path.join(root, 'models'));
  const past = new Date(Date.now() - 3600_000);
  files = [];
  for (let index = 0; index < FILES; index += 1) {
    const file = path.join(root, 'models', `m-${index}.safetensors`);
    await writeFile(file, tinySafetensors(index));
    await utimes(file, past, past);
    files.push(toDiscoveredFile(file, root, 'models', 'LORA', await stat(file)));
  }
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const hasProc = existsSync('/proc/self/fd');
const openFds = () => readdirSync('/proc/self/fd').length;

/** Samples the number of open descriptors on every turn of the event loop while `work` runs. */
async function peakFds<T>(work: () => Promise<T>): Promise<{ result: T; peak: number; baseline: number }> {
  const baseline = openFds();
  let peak = baseline;
  let running = true;
  const sample = () => {
    peak = Math.max(peak, openFds());
    if (running) setImmediate(sample);
  };
  sample();
  try {
    return { result: await work(), peak, baseline };
  } finally {
    running = false;
  }
}

/** A pool that hashes nothing (the files' bytes do not matter here) and holds no file open. */
const fakePool: HashPool = {
  threads: 1,
  ready: async () => ({ mode: 'in-thread', blake3: 'wasm' as never }),
  hash: async (job) => ({
    hashes: { SHA256: createHash('sha256').update(job.path).digest('hex').toUpperCase() },
    bytesRead: job.size ?? 0,
    identity: { dev: 0, ino: 0, size: job.size ?? 0, mtimeMs: 0 },
  }),
  stats: { files: 0, bytesRead: 0, messages: 0 },
  close: async () => {},
};

describe(`bulk header reads over ${FILES} files`, () => {
  it('resolveHashes reads the headers before the pool at most OPEN_FILES_LIMIT at a time', async () => {
    let inFlight = 0;
    let most = 0;
    const { result } = await peakFds(() =>
      resolveHashes(files, {
        types: ['SHA256'],
        pool: fakePool,
        seedFromSidecars: false,
        tensorOffset: async (file) => {
          inFlight += 1;
          most = Math.max(most, inFlight);
          try {
            const header = await readSafetensorsHeader(file.path);
            return 8 + header.headerLength;
          } finally {
            inFlight -= 1;
          }
        },
      }),
    );
    console.info(`[state:bounded-open] resolveHashes: at most ${most} header reads in flight of ${FILES} files (limit ${OPEN_FILES_LIMIT})`);
    expect(result.failed.size).toBe(0);
    expect(result.counts.read).toBe(FILES);
    expect(most).toBeLessThanOrEqual(OPEN_FILES_LIMIT);
    expect(most).toBeGreaterThan(1);
  });

  it.runIf(hasProc)('the default header reads (AutoV3 offsets) and a burst of readSafetensorsHeader keep at most OPEN_FILES_LIMIT files open', async () => {
    const viaResolve = await peakFds(() => resolveHashes(files, { types: ['SHA256'], pool: fakePool, seedFromSidecars: false }));
    expect(viaResolve.result.failed.size).toBe(0);
    const burst = await peakFds(() => Promise.all(files.map((file) => readSafetensorsHeader(file.path))));
    expect(burst.result.every((header) => header.tensorCount === 1)).toBe(true);
    console.info(
      `[state:bounded-open] open descriptors above baseline: resolveHashes ${viaResolve.peak - viaResolve.baseline}, burst of ${FILES} header reads ${burst.peak - burst.baseline} (limit ${OPEN_FILES_LIMIT})`,
    );
    expect(viaResolve.peak - viaResolve.baseline).toBeLessThanOrEqual(OPEN_FILES_LIMIT);
    expect(burst.peak - burst.baseline).toBeLessThanOrEqual(OPEN_FILES_LIMIT);
  });

  it.runIf(hasProc)('a burst of other tools\' sidecar reads keeps at most OPEN_FILES_LIMIT files open', async () => {
    for (const file of files) {
      const sha256 = createHash('sha256').update(file.path).digest('hex');
      await writeFile(file.path.replace(/\.safetensors$/, '.metadata.json'), JSON.stringify({ sha256, size: file.size, hash_status: 'completed', padding: 'x'.repeat(20_000) }));
    }
    const burst = await peakFds(() => Promise.all(files.map((file) => readForeignHashes(file.path, file.size, { mtimeMs: file.mtimeMs }))));
    expect(burst.result.every((seed) => seed?.source === 'lora-manager')).toBe(true);
    console.info(`[state:bounded-open] open descriptors above baseline: burst of ${FILES} sidecar reads ${burst.peak - burst.baseline} (limit ${OPEN_FILES_LIMIT})`);
    expect(burst.peak - burst.baseline).toBeLessThanOrEqual(OPEN_FILES_LIMIT);
  });
});
