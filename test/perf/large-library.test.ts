/**
 * A library of 50,000 model files is scanned whole in one run under `ulimit -n 1024` (it used to
 * stop with EMFILE): discovery, hashing (a tenth read through the pool, the rest seeded from
 * ComfyUI-Lora-Manager sidecars), header reads, the state store and thousands of sidecar writes
 * each keep a bounded number of files open. The rerun then reads and writes nothing.
 *
 * Kept cheap: tiny files, no previews, no .civitai.info, no second read for the AutoV3/CRC32 of
 * unknown files (`scanner.complete_hashes: false`), CivitAI answered inside the child (no HTTP,
 * scale-child.ts), the library on tmpfs when there is one. Still well over 1,024 of each kind of
 * open: 5,000 files read, 45,000 other tools' sidecars, about 2,500 sidecars written.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { openStateStore } from '../../src/integration/engine/state/index.ts';
import { mapLimit } from '../../src/integration/engine/util/map-limit.ts';
import { figures, TMP_BASE } from '../hardening/helpers.ts';

const FILES = 50_000;
const PER_FOLDER = 500;
/** Every tenth file has no other tool's sidecar: read whole. */
const READ_EVERY = 10;
/** A hash is known to CivitAI when its first byte is below this: about one file in twenty. */
const IDENTIFIED_BELOW = 13;
const FD_LIMIT = 1024;
const CHILD = path.join(import.meta.dirname, 'scale-child.ts');

let dir: string;
let identified = 0;
/** Identified files of the first two folders (moved by the last run). */
let identifiedMoved = 0;

function tinySafetensors(seed: number): Buffer {
  const data = createHash('sha256').update(`large library ${seed}`).digest();
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'U8', shape: [data.length], data_offsets: [0, data.length] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, data]);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(TMP_BASE, 'cs-large-'));
  const library = path.join(dir, 'library');
  const old = new Date(Date.now() - 3600_000);
  for (let shelf = 0; shelf * PER_FOLDER < FILES; shelf += 1) await mkdir(path.join(library, `shelf-${shelf}`), { recursive: true });
  await mapLimit(
    Array.from({ length: FILES }, (_, index) => index),
    64,
    async (index) => {
      const bytes = tinySafetensors(index);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (Number.parseInt(sha256.slice(0, 2), 16) < IDENTIFIED_BELOW) {
        identified += 1;
        if (index < 2 * PER_FOLDER) identifiedMoved += 1;
      }
      const base = path.join(library, `shelf-${Math.floor(index / PER_FOLDER)}`, `model-${index}`);
      await writeFile(`${base}.safetensors`, bytes);
      // An hour old: a file hashed within seconds of its last write is hashed again next time.
      await utimes(`${base}.safetensors`, old, old);
      if (index % READ_EVERY !== 0) await writeFile(`${base}.metadata.json`, JSON.stringify({ sha256, size: bytes.length, hash_status: 'completed' }));
    },
  );
  await writeFile(
    path.join(dir, 'civitscraper.yaml'),
    stringify({
      input_paths: { models: { path: library, type: 'LORA' } },
      jobs: { scan: { type: 'scan-paths', output: { images: { save: false }, compat: { civitai_info: false } } } },
      scanner: { cache_dir: path.join(dir, '.cache'), complete_hashes: false },
    }),
  );
}, 120_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  code: number | null;
  stderr: string;
  seconds: number;
  result?: {
    found: number;
    records: number;
    identified: number;
    hash: { files: number; fromLedger: number; fromSidecars: number };
    written: number;
    sidecarReads: number;
    errors: { path: string; stage: string; message: string }[];
    errorCount: number;
    emfile: number;
    stages: string;
  };
}

/** One engine run in a child with at most FD_LIMIT open file descriptors. */
async function runLimited(): Promise<Outcome> {
  const started = performance.now();
  const child = spawn('bash', ['-c', `ulimit -n ${FD_LIMIT} && exec "$0" "$@"`, process.execPath, CHILD, dir, String(IDENTIFIED_BELOW)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  // Safety net only: a hung child would otherwise hang the suite.
  const guard = setTimeout(() => child.kill('SIGKILL'), 400_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
  clearTimeout(guard);
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const line = stdout.trim().split('\n').at(-1) ?? '';
  let result: Outcome['result'];
  try {
    result = JSON.parse(line) as Outcome['result'];
  } catch {
    result = undefined;
  }
  return { code, stderr, seconds, ...(result ? { result } : {}) };
}

describe(`a library of ${FILES.toLocaleString('en-US')} model files under ulimit -n ${FD_LIMIT}`, () => {
  it('is scanned whole in one run, and the rerun reads and writes nothing', async () => {
    const cold = await runLimited();
    figures('large-library', 'cold run', { files: FILES, fdLimit: FD_LIMIT, seconds: cold.seconds, code: cold.code, written: cold.result?.written, stages: cold.result?.stages });
    expect(cold.stderr).not.toMatch(/EMFILE|too many open files/i);
    expect(cold.code, cold.stderr.slice(-2000)).toBe(0);
    expect(cold.result?.emfile).toBe(0);
    expect(cold.result?.errors).toEqual([]);
    expect(cold.result?.found).toBe(FILES);
    expect(cold.result?.records).toBe(FILES);
    expect(cold.result?.hash.files).toBe(FILES / READ_EVERY);
    expect(cold.result?.hash.fromSidecars).toBe(FILES - FILES / READ_EVERY);
    expect(identified).toBeGreaterThan(FILES / 40);
    expect(cold.result?.identified).toBe(identified);
    // One metadata sidecar per identified model, each stamped in the state store.
    expect(cold.result?.written).toBe(identified);

    const warm = await runLimited();
    figures('large-library', 'rerun', { seconds: warm.seconds, code: warm.code, sidecarReads: warm.result?.sidecarReads, stages: warm.result?.stages });
    expect(warm.code, warm.stderr.slice(-2000)).toBe(0);
    expect(warm.result?.errorCount).toBe(0);
    expect(warm.result?.records).toBe(FILES);
    expect(warm.result?.identified).toBe(identified);
    expect(warm.result?.hash.files).toBe(0);
    expect(warm.result?.sidecarReads).toBe(0);
    expect(warm.result?.written).toBe(0);

    // Two folders renamed (as organize or a user moves models with their sidecars): their
    // sidecars are read once at their new paths, and the stamps of the old paths are dropped.
    const library = path.join(dir, 'library');
    for (const shelf of [0, 1]) await rename(path.join(library, `shelf-${shelf}`), path.join(library, `moved-${shelf}`));
    const moved = await runLimited();
    expect(moved.code, moved.stderr.slice(-2000)).toBe(0);
    expect(identifiedMoved).toBeGreaterThan(0);
    expect(moved.result?.hash.files).toBe(0);
    expect(moved.result?.sidecarReads).toBe(identifiedMoved);
    expect(moved.result?.written).toBe(0);
    const store = openStateStore(path.join(dir, '.cache'));
    try {
      expect(store.sidecars.count()).toBe(identified);
    } finally {
      store.close();
    }
  }, 900_000);
});
