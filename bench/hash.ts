/**
 * `npm run bench` — hashing throughput on a synthetic model library, beside this machine's
 * ceiling. Writes a few GB of files to a temporary folder (deleted afterwards), then measures:
 *
 * - the ceiling: OpenSSL's single-core SHA-256 × cores, OpenSSL on all cores at once (`-multi`;
 *   shared caches and memory bandwidth make it lower), and `b3sum` when installed;
 * - the hash pool (all threads) for SHA-256 alone, the default one-pass set against the seed's
 *   default (+ AutoV3, CRC32), BLAKE3 alone and every CivitAI hash type;
 * - one thread: `hashFile` SHA-256, native BLAKE3 and hash-wasm BLAKE3;
 * - a second run through the hash ledger, which must read 0 bytes;
 * - progress on one large file (sparse, `--progress-gb`, default 8): the longest interval between
 *   two byte counts the hashing stage receives (its live line moves with them), start and end
 *   included, beside the time the whole file takes (what a per-file update would wait).
 *
 * The files were just written, so they are read from the page cache: this measures hashing,
 * not the disk (what is left between the pool and OpenSSL is mostly the kernel copying pages
 * into our buffers, which OpenSSL's in-memory test does not do). Rates are wall-clock; the
 * "GB per CPU-second" column (all threads of this process) stays meaningful on a busy machine. Options: --size-gb N (default 3), --threads N, --repeat N (best of, default 3),
 * --progress-gb N (default 8; 0 skips it), --dir PATH (where to write the set; default the system
 * temp folder). The last line, `@@BENCH {…}`, has the figures for `npm run bench`'s table.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ScannerSchema } from '../src/integration/engine/config/schema.ts';
import { HASH_TYPES, type HashType } from '../src/integration/engine/records/schema.ts';
import { toDiscoveredFile } from '../src/integration/engine/scan/discover.ts';
import { blake3Backend, createBlake3, hashFile } from '../src/integration/engine/scan/hash.ts';
import { createHashPool, defaultHashThreads, hashMany, type HashJob } from '../src/integration/engine/scan/hash-pool.ts';
import { openStateStore, resolveHashes } from '../src/integration/engine/state/index.ts';

const { values: args } = parseArgs({
  options: {
    'size-gb': { type: 'string', default: '3' },
    'progress-gb': { type: 'string', default: '8' },
    threads: { type: 'string' },
    repeat: { type: 'string', default: '3' },
    dir: { type: 'string' },
  },
});
const totalBytes = Math.round(Number(args['size-gb']) * 1e9);
const threads = args.threads ? Number(args.threads) : defaultHashThreads();
const repeat = Math.max(1, Number(args.repeat));
const cores = availableParallelism();
const loadStart = loadavg()[0] ?? 0;
const MiB = 1024 * 1024;

interface SetFile {
  path: string;
  size: number;
  tensorOffset?: number;
}

const root = await mkdtemp(path.join(args.dir ?? tmpdir(), 'civitscraper-bench-'));
const abort = new AbortController();
process.once('SIGINT', () => abort.abort());
try {
  console.log(`CivitScraper hashing benchmark — Node ${process.version}, ${cores} cores (${cpus()[0]?.model ?? 'unknown CPU'})`);
  const files = await writeSyntheticSet(root, totalBytes);
  const bytes = files.reduce((sum, file) => sum + file.size, 0);
  console.log(`set: ${formatGB(bytes)} in ${files.length} files (largest ${formatGB(files[0]?.size ?? 0)}), pool of ${threads} threads, BLAKE3 ${blake3Backend()}\n`);

  const rows: [string, string, string][] = [];
  const row = (label: string, gbps: number | undefined, note = '') =>
    rows.push([label, gbps === undefined ? 'n/a' : `${gbps.toFixed(2)} GB/s`, note]);

  const opensslCore = opensslSha256();
  const ceiling = opensslCore === undefined ? undefined : opensslCore * cores;
  row('ceiling: OpenSSL SHA-256, 1 core', opensslCore, opensslCore === undefined ? 'openssl not installed' : '');
  row(`ceiling: OpenSSL SHA-256 × ${cores} cores`, ceiling);
  const opensslMulti = cores > 1 ? opensslSha256(cores) : opensslCore;
  row(`ceiling: OpenSSL SHA-256, ${cores} processes at once`, opensslMulti, 'what the cores really give together');
  const b3sum = b3sumSpeed(files);
  row('ceiling: b3sum (all cores)', b3sum, b3sum === undefined ? 'b3sum not installed' : '');
  // What no reader through read() avoids: the kernel copies every page into the reader's buffer,
  // on the core that then hashes it (Node has no mmap). OpenSSL's test hashes memory in place.
  const copyCore = await best(() => readOnly(files));
  const readCeiling = opensslCore === undefined ? undefined : cores / (1 / opensslCore + 1 / copyCore);
  row('the kernel copying the set into a buffer, 1 core', copyCore, 'read() alone, page cache → 2 MiB buffer, per CPU-second');
  row(`ceiling with that copy: (OpenSSL + copy) × ${cores} cores`, readCeiling, readCeiling && ceiling ? `${Math.round((readCeiling / ceiling) * 100)} % of OpenSSL × cores` : '');

  const pool = createHashPool({ threads, signal: abort.signal });
  const ready = await pool.ready();
  /** Wall-clock GB/s (best of `repeat`) and GB per CPU-second (this process, all threads). */
  const poolRate = async (types: readonly HashType[]) => {
    let wall = 0;
    let perCpu = 0;
    for (let i = 0; i < repeat; i += 1) {
      const jobs: HashJob[] = files.map((file) => ({ path: file.path, size: file.size, types, tensorOffset: file.tensorOffset }));
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const outcomes = await hashMany(pool, jobs, { signal: abort.signal });
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      const failed = outcomes.find((outcome) => outcome.error);
      if (failed) throw failed.error;
      wall = Math.max(wall, bytes / seconds / 1e9);
      perCpu = Math.max(perCpu, bytes / ((cpu.user + cpu.system) / 1e6) / 1e9);
    }
    return { wall, perCpu };
  };
  const cpuNote = (rate: { perCpu: number }, reference: number | undefined) =>
    `${rate.perCpu.toFixed(2)} GB per CPU-second${reference ? ` (${Math.round((rate.perCpu / reference) * 100)} % of OpenSSL's)` : ''}`;
  // One untimed pass: the threads' code is optimized and every file is in the page cache.
  await hashMany(pool, files.map((file) => ({ path: file.path, size: file.size, types: ['SHA256'] })), { signal: abort.signal });
  const poolSha = await poolRate(['SHA256', 'AutoV2']);
  row(
    `pool SHA-256 (${ready.mode}, ${threads} threads)`,
    poolSha.wall,
    `${ratio(poolSha.wall, ceiling, 'of OpenSSL × cores (target ≥ 85 %)')}, ${ratio(poolSha.wall, opensslMulti, 'of OpenSSL at once')}; ${cpuNote(poolSha, opensslCore)}`,
  );
  // The default first read (scanner.hash_types) against the seed's default, which added AutoV3
  // (a second full SHA-256) and CRC32 (a third pass) to every read.
  const defaultTypes = ScannerSchema.parse({}).hash_types;
  const poolDefault = await poolRate(defaultTypes);
  row(
    `pool, default scanner.hash_types (${defaultTypes.join(', ')})`,
    poolDefault.wall,
    `${ratio(poolDefault.wall, ceiling, 'of OpenSSL × cores (target ≥ 85 %)')}, ${ratio(poolDefault.wall, readCeiling, 'of the ceiling with the copy')}; ${cpuNote(poolDefault, opensslCore)}`,
  );
  const poolSeed = await poolRate(['SHA256', 'AutoV2', 'AutoV1', 'AutoV3', 'CRC32']);
  row("pool, the seed's default (+ AutoV3, CRC32)", poolSeed.wall, `${ratio(poolSeed.wall, poolDefault.wall, 'of the one-pass default')}; ${cpuNote(poolSeed, opensslCore)}`);
  const poolBlake = await poolRate(['BLAKE3']);
  row(`pool BLAKE3 (${ready.blake3})`, poolBlake.wall, `${b3sum ? `${ratio(poolBlake.wall, b3sum, 'of b3sum')}; ` : ''}${cpuNote(poolBlake, undefined)}`);
  const poolAll = await poolRate(HASH_TYPES);
  row('pool, all 6 CivitAI hash types in one read', poolAll.wall, `${ratio(poolAll.wall, ceiling, 'of OpenSSL SHA-256 × cores')}; ${cpuNote(poolAll, undefined)}`);
  await pool.close();

  // One thread, on the largest file (up to 1 GB of it is plenty).
  const sample = files[0] as SetFile;
  const single = await best(async () => {
    const started = performance.now();
    const result = await hashFile(sample.path, { types: ['SHA256'], signal: abort.signal });
    return result.bytesRead / ((performance.now() - started) / 1000) / 1e9;
  });
  row('1 thread: hashFile SHA-256', single, ratio(single, opensslCore, 'of OpenSSL 1 core'));
  const sampleBytes = Math.min(sample.size, 1e9);
  const nativeOne = blake3Backend() === 'native' ? await best(() => blake3Stream(sample.path, sampleBytes, 'native')) : undefined;
  row('1 thread: BLAKE3 native (@napi-rs/blake-hash)', nativeOne, nativeOne === undefined ? 'not available here' : '');
  const wasmOne = await best(() => blake3Stream(sample.path, Math.min(sampleBytes, 512 * MiB), 'wasm'));
  row('1 thread: BLAKE3 hash-wasm (fallback)', wasmOne, nativeOne ? `native is ${(nativeOne / wasmOne).toFixed(1)} × hash-wasm` : '');

  // A second run through the ledger: nothing is read.
  const store = openStateStore(path.join(root, '.state'));
  const ledgerPool = createHashPool({ threads, signal: abort.signal });
  const discovered = await Promise.all(
    files.map(async (file) => {
      const handle = await open(file.path, 'r');
      const stats = await handle.stat();
      await handle.close();
      return toDiscoveredFile(file.path, root, 'bench', 'BENCH', stats);
    }),
  );
  const options = { types: HASH_TYPES, pool: ledgerPool, store, seedFromSidecars: false, tensorOffset: async () => undefined, signal: abort.signal };
  let started = performance.now();
  const first = await resolveHashes(discovered, options);
  const firstSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  const second = await resolveHashes(discovered, options);
  const secondSeconds = (performance.now() - started) / 1000;
  await ledgerPool.close();
  store.close();
  rows.push([
    'ledger: first run / second run',
    `${formatGB(first.bytesRead)} / ${formatGB(second.bytesRead)} read`,
    `${firstSeconds.toFixed(2)} s / ${(secondSeconds * 1000).toFixed(1)} ms for ${files.length} files (${second.counts.ledger} ledger hits)`,
  ]);

  const progressBytes = Math.round(Number(args['progress-gb']) * 1024 ** 3);
  const progress = progressBytes > 0 ? await progressGaps(root, progressBytes, threads) : undefined;
  if (progress) {
    rows.push([
      `progress on one ${formatGB(progress.bytes)} file: longest interval`,
      `${progress.maxGapSeconds.toFixed(2)} s`,
      `${progress.updates} byte counts in ${progress.seconds.toFixed(1)} s (target ≤ 0.5 s; a per-file update would wait ${progress.seconds.toFixed(1)} s)`,
    ]);
  }

  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value, note] of rows) console.log(`${label.padEnd(width)}  ${value.padStart(16)}  ${note}`);
  if (ceiling !== undefined && ready.mode === 'workers') {
    const share = poolDefault.wall / ceiling;
    console.log(`\ntarget: the default hash_types ≥ 85 % of OpenSSL × cores — ${share >= 0.85 ? 'met' : 'missed'} (${Math.round(share * 100)} %)`);
  }
  const [loadEnd] = loadavg();
  const busy = Math.max(loadStart, loadEnd ?? 0) > cores * 0.75;
  console.log(
    `@@BENCH ${JSON.stringify({
      cores,
      opensslCore,
      ceiling,
      opensslMulti,
      poolSha: poolSha.wall,
      defaultTypes,
      poolDefault: poolDefault.wall,
      poolDefaultPerCpu: poolDefault.perCpu,
      poolSeed: poolSeed.wall,
      copyCore,
      readCeiling,
      progress,
      load: [loadStart, loadEnd ?? 0],
      busy,
    })}`,
  );
  if (busy) {
    console.log(
      `note: the machine was busy (load average ${loadStart.toFixed(1)} → ${(loadEnd ?? 0).toFixed(1)} on ${cores} cores); ` +
        'wall-clock rates are low, GB per CPU-second and OpenSSL (which counts CPU time) are not. Rerun on an idle machine.',
    );
  }
} finally {
  await rm(root, { recursive: true, force: true });
}

/**
 * A library-like mix: one checkpoint (40 %), two medium files (15 % each), 16 LoRA-sized
 * safetensors (1.5 % each) and many small embeddings (the rest, ~200 KB to 2 MB each).
 */
async function writeSyntheticSet(folder: string, total: number): Promise<SetFile[]> {
  await mkdir(folder, { recursive: true });
  const plan: { name: string; size: number; safetensors: boolean }[] = [
    { name: 'checkpoint.safetensors', size: Math.round(total * 0.4), safetensors: true },
    { name: 'medium-1.ckpt', size: Math.round(total * 0.15), safetensors: false },
    { name: 'medium-2.safetensors', size: Math.round(total * 0.15), safetensors: true },
  ];
  for (let i = 0; i < 16; i += 1) plan.push({ name: `lora-${i}.safetensors`, size: Math.round(total * 0.015), safetensors: true });
  let left = total - plan.reduce((sum, file) => sum + file.size, 0);
  for (let i = 0; left > 0; i += 1) {
    const size = Math.min(left, 200_000 + ((i * 7_919_317) % 1_800_000));
    plan.push({ name: `embedding-${i}.pt`, size, safetensors: false });
    left -= size;
  }
  const pattern = Buffer.allocUnsafe(16 * MiB);
  for (let i = 0; i < pattern.length; i += 4) pattern.writeUInt32LE((i * 2654435761) >>> 0, i);
  const files: SetFile[] = [];
  const started = performance.now();
  for (const [index, file] of plan.entries()) {
    const target = path.join(folder, file.name);
    const handle = await open(target, 'w');
    let tensorOffset: number | undefined;
    let written = 0;
    if (file.safetensors) {
      const header = Buffer.from(JSON.stringify({ __metadata__: { index: String(index) }, w: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }));
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(header.length));
      await handle.write(Buffer.concat([length, header]));
      written = 8 + header.length;
      tensorOffset = written;
    }
    while (written < file.size) {
      const n = Math.min(pattern.length, file.size - written);
      pattern.writeUInt32LE(index, 0); // different content per file
      await handle.write(pattern, 0, n);
      written += n;
    }
    // On disk before any measurement: the kernel's writeback of 3 GB of dirty pages would
    // otherwise compete with the first runs for the same cores.
    await handle.sync();
    await handle.close();
    files.push({ path: target, size: file.size, tensorOffset });
  }
  console.log(`wrote the synthetic set in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return files.sort((a, b) => b.size - a.size);
}

/**
 * Hashes one sparse file of `bytes` (no disk space; it reads as zeros, at hashing speed) through
 * resolveHashes, as the hashing stage does, and times the byte counts it hands on.
 */
async function progressGaps(folder: string, bytes: number, poolThreads: number) {
  const file = path.join(folder, 'progress.ckpt');
  const handle = await open(file, 'w');
  await handle.truncate(bytes);
  const stats = await handle.stat();
  await handle.close();
  const progressPool = createHashPool({ threads: poolThreads, signal: abort.signal });
  await progressPool.ready();
  const stamps: number[] = [];
  const started = performance.now();
  try {
    await resolveHashes([toDiscoveredFile(file, folder, 'bench', 'CHECKPOINT', stats)], {
      types: ScannerSchema.parse({}).hash_types,
      pool: progressPool,
      seedFromSidecars: false,
      tensorOffset: async () => undefined,
      signal: abort.signal,
      onBytes: () => stamps.push(performance.now()),
    });
  } finally {
    await progressPool.close();
    await rm(file, { force: true });
  }
  const ended = performance.now();
  const points = [started, ...stamps, ended];
  let maxGap = 0;
  for (let i = 1; i < points.length; i += 1) maxGap = Math.max(maxGap, (points[i] as number) - (points[i - 1] as number));
  return { bytes, seconds: (ended - started) / 1000, updates: stamps.length, maxGapSeconds: maxGap / 1000 };
}

/**
 * GB per CPU-second (as OpenSSL counts its speed) of reading the whole set with blocking 2 MiB
 * reads into one buffer, nothing else; nothing else of this process runs meanwhile.
 */
async function readOnly(set: readonly SetFile[]): Promise<number> {
  const buffer = Buffer.allocUnsafeSlow(2 * MiB);
  let bytes = 0;
  const started = process.cpuUsage();
  for (const file of set) {
    const fd = openSync(file.path, 'r');
    try {
      for (let offset = 0; ; ) {
        const n = readSync(fd, buffer, 0, buffer.length, offset);
        if (n === 0) break;
        offset += n;
        bytes += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  const cpu = process.cpuUsage(started);
  return bytes / ((cpu.user + cpu.system) / 1e6) / 1e9;
}

/** One thread, one reused buffer: measures the BLAKE3 implementation, not allocation. */
async function blake3Stream(file: string, limit: number, backend: 'native' | 'wasm'): Promise<number> {
  const hasher = await createBlake3(backend);
  const buffer = Buffer.allocUnsafeSlow(2 * MiB);
  const handle = await open(file, 'r');
  const started = performance.now();
  let read = 0;
  try {
    while (read < limit) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, limit - read), read);
      if (bytesRead === 0) break;
      hasher.update(buffer.subarray(0, bytesRead));
      read += bytesRead;
    }
  } finally {
    await handle.close();
  }
  hasher.digestHex();
  return read / ((performance.now() - started) / 1000) / 1e9;
}

/**
 * OpenSSL's SHA-256 on 16 MiB blocks in GB/s (it prints 1000s of bytes per second): one process,
 * or with `multi` that many at once (their sum).
 */
function opensslSha256(multi?: number): number | undefined {
  try {
    const out = execFileSync(
      'openssl',
      ['speed', ...(multi ? ['-multi', String(multi)] : []), '-bytes', '16777216', '-seconds', '2', 'sha256'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const match = /^sha256\s+([\d.]+)k/m.exec(out);
    return match ? (Number(match[1]) * 1000) / 1e9 : undefined;
  } catch {
    return undefined;
  }
}

function b3sumSpeed(files: SetFile[]): number | undefined {
  try {
    execFileSync('b3sum', ['--version'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const started = performance.now();
  execFileSync('b3sum', files.map((file) => file.path), { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 64 * MiB });
  const bytes = files.reduce((sum, file) => sum + file.size, 0);
  return bytes / ((performance.now() - started) / 1000) / 1e9;
}

async function best(measure: () => Promise<number>): Promise<number> {
  let top = 0;
  for (let i = 0; i < repeat; i += 1) top = Math.max(top, await measure());
  return top;
}

function ratio(value: number, reference: number | undefined, what: string): string {
  return reference ? `${Math.round((value / reference) * 100)} % ${what}` : '';
}

function formatGB(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}
