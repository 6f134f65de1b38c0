/**
 * Byte-level hashing progress: while one large file is read, the worker reports the bytes done
 * (every 64 MiB at the latest, and every 0.25 s), the pool forwards them, and resolveHashes hands
 * them to the stage — all before the file is finished.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toDiscoveredFile } from '../../src/integration/engine/scan/discover.ts';
import { createHashPool } from '../../src/integration/engine/scan/hash-pool.ts';
import { PROGRESS_EVERY_BYTES } from '../../src/integration/engine/scan/hash.ts';
import { resolveHashes } from '../../src/integration/engine/state/index.ts';

const SIZE = 320 * 1024 * 1024;
let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-progress-'));
  file = path.join(dir, 'big.ckpt');
  const handle = await open(file, 'w');
  await handle.truncate(SIZE); // sparse: no disk space, reads as zeros
  await handle.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hashing progress', () => {
  for (const mode of ['auto', 'in-thread'] as const) {
    it(`reports partial byte counts before a large file completes (${mode === 'auto' ? 'worker threads' : 'in-thread'})`, async () => {
      const pool = createHashPool({ threads: 1, mode });
      try {
        const seen: { bytes: number; finished: boolean }[] = [];
        let finished = false;
        const result = await pool.hash({ path: file, types: ['SHA256'], size: SIZE }, { onProgress: (bytes) => seen.push({ bytes, finished }) });
        finished = true;
        expect(result.bytesRead).toBe(SIZE);
        const partial = seen.filter((event) => !event.finished && event.bytes > 0 && event.bytes < SIZE);
        // Byte-driven as well as time-driven: at least one report per 64 MiB, whatever the speed.
        expect(partial.length).toBeGreaterThanOrEqual(Math.floor(SIZE / PROGRESS_EVERY_BYTES) - 1);
        const values = seen.map((event) => event.bytes);
        expect(values).toEqual([...values].sort((a, b) => a - b));
      } finally {
        await pool.close();
      }
    });
  }

  it('resolveHashes hands the bytes to the stage before the file’s result', async () => {
    const pool = createHashPool({ threads: 1 });
    try {
      const handle = await open(file, 'r');
      const stats = await handle.stat();
      await handle.close();
      const discovered = toDiscoveredFile(file, dir, 'bench', 'CHECKPOINT', stats);
      const events: string[] = [];
      await resolveHashes([discovered], {
        types: ['SHA256', 'AutoV2'],
        pool,
        seedFromSidecars: false,
        tensorOffset: async () => undefined,
        onBytes: (_file, bytes) => events.push(bytes < SIZE ? 'partial' : 'all'),
        onResult: () => events.push('result'),
      });
      expect(events.at(-1)).toBe('result');
      expect(events.filter((event) => event === 'partial').length).toBeGreaterThan(1);
      expect(events.indexOf('partial')).toBeLessThan(events.indexOf('result'));
    } finally {
      await pool.close();
    }
  });
});
