/**
 * The hashing stage with its shortcuts, in order of cost: the ledger (0 bytes read), other
 * tools' sidecars (a few KB), then the worker pool (the whole file). Every hash computed or
 * seeded is remembered within a batch of a few hundred (at most half a second later for the
 * ones read), so a run killed half-way keeps nearly all it finished, and one stopped keeps all.
 */
import path from 'node:path';
import type { HashType, Hashes } from '../records/schema.ts';
import type { TrainingSummary } from '../records/training.ts';
import type { DiscoveredFile } from '../scan/discover.ts';
import { folderNames, readForeignHashes, type ForeignSource } from '../scan/foreign-hashes.ts';
import type { HashPool } from '../scan/hash-pool.ts';
import { createLimiter, ModelFileError, OPEN_FILES_LIMIT, readSafetensorsHeader } from '../scan/safetensors.ts';
import { mapLimit } from '../util/map-limit.ts';
import type { FileIdentity } from './ledger.ts';
import type { StateStore } from './store.ts';

export type HashSource = 'ledger' | 'read' | ForeignSource;

export interface ResolvedHashes {
  hashes: Hashes;
  source: HashSource;
  /** Bytes read to get them (0 unless `source` is `read`). */
  bytesRead: number;
  /** From the ledger: the file's training summary, when an earlier run read its header. */
  training?: TrainingSummary | null;
}

export interface ResolveHashesOptions {
  /** Hash types to compute when a file is read. */
  types: readonly HashType[];
  /** Types a ledger entry or sidecar must have to spare the read (default: SHA256). */
  required?: readonly HashType[];
  pool: HashPool;
  /** Without a store every file is seeded or read. */
  store?: StateStore;
  /** Take hashes from other tools' sidecars (default true). */
  seedFromSidecars?: boolean;
  /** Our own sidecar paths for a file, when configured elsewhere than `<stem>.json`. */
  ownSidecars?: (file: DiscoveredFile) => readonly string[];
  /** Where a safetensors file's tensor data starts (enables AutoV3); default reads the header. */
  tensorOffset?: (file: DiscoveredFile) => Promise<number | undefined>;
  signal?: AbortSignal;
  onResult?: (file: DiscoveredFile, outcome: ResolvedHashes | { error: unknown }) => void;
  /**
   * Once the ledger and other tools' sidecars have answered, before the first byte is read:
   * what will really be read (progress states that, not what the ledger then skips).
   */
  onPlanned?: (plan: { toRead: readonly DiscoveredFile[]; bytes: number; fromLedger: number; fromSidecars: number }) => void;
  /** Bytes of a file hashed so far while the pool reads it (before its onResult). */
  onBytes?: (file: DiscoveredFile, bytesDone: number) => void;
}

export interface ResolveHashesResult {
  /** By file path. */
  resolved: Map<string, ResolvedHashes>;
  /** By file path: why a file could not be hashed (ModelFileError, fs errors, AbortError). */
  failed: Map<string, unknown>;
  bytesRead: number;
  counts: { ledger: number; sidecar: number; read: number };
}

/** Files read, remembered per transaction… */
const REMEMBER_BATCH = 256;
/** …or this long after the first of a batch landed, whichever comes first. */
const REMEMBER_EVERY_MS = 500;

export async function resolveHashes(files: readonly DiscoveredFile[], options: ResolveHashesOptions): Promise<ResolveHashesResult> {
  const required = options.required ?? ['SHA256'];
  const has = (hashes: Hashes) => required.every((type) => hashes[type] !== undefined);
  const ledger = options.store?.ledger;
  const result: ResolveHashesResult = {
    resolved: new Map(),
    failed: new Map(),
    bytesRead: 0,
    counts: { ledger: 0, sidecar: 0, read: 0 },
  };
  const done = (file: DiscoveredFile, outcome: ResolvedHashes) => {
    result.resolved.set(file.path, outcome);
    options.onResult?.(file, outcome);
  };
  const fail = (file: DiscoveredFile, error: unknown) => {
    result.failed.set(file.path, error);
    options.onResult?.(file, { error });
  };

  // 1. The ledger.
  const seen: (FileIdentity & { path: string })[] = [];
  let rest: DiscoveredFile[] = [];
  for (const file of files) {
    const hit = ledger?.find(file);
    if (hit && has(hit.entry.hashes)) {
      if (hit.moved || hit.how === 'path') {
        ledger?.remember(file, file.path, hit.entry.hashes, { source: hit.entry.source, hashedAt: hit.entry.hashedAt });
      } else {
        seen.push(file);
      }
      result.counts.ledger += 1;
      const training = hit.entry.training;
      done(file, { hashes: hit.entry.hashes, source: 'ledger', bytesRead: 0, ...(training !== undefined ? { training } : {}) });
    } else {
      rest.push(file);
    }
  }
  if (ledger && seen.length > 0) {
    const store = options.store as StateStore;
    try {
      store.transaction(() => ledger.touch(seen));
    } catch {
      // Only bookkeeping for `prune`; the guard inside already warned.
    }
  }

  // 2. Other tools' sidecars. Remembered a few hundred per transaction (one commit per file
  // was a large part of this step): a run killed before a flush reads those sidecars again.
  if (options.seedFromSidecars ?? true) {
    const unseeded: DiscoveredFile[] = [];
    const seeded: { file: DiscoveredFile; hashes: Hashes; source: string }[] = [];
    const flush = () => {
      if (!ledger || seeded.length === 0) return;
      const batch = seeded.splice(0);
      try {
        (options.store as StateStore).transaction(() => {
          for (const { file, hashes, source } of batch) ledger.remember(file, file.path, hashes, { source });
        });
      } catch {
        // Only saves a sidecar read next time; the guard inside already warned.
      }
    };
    // Each folder listed once, so the sidecars a model does not have are not stat'ed one by one.
    const listings = new Map<string, Promise<Set<string> | undefined>>();
    await mapLimit(rest, OPEN_FILES_LIMIT, async (file) => {
      if (options.signal?.aborted) {
        unseeded.push(file);
        return;
      }
      const folder = path.dirname(file.path);
      let listing = listings.get(folder);
      if (!listing) listings.set(folder, (listing = folderNames(folder)));
      const names = await listing;
      const seed = await readForeignHashes(file.path, file.size, {
        mtimeMs: file.mtimeMs,
        ownSidecars: options.ownSidecars?.(file),
        ...(names ? { folderNames: names } : {}),
      }).catch(() => undefined);
      if (!seed || !has(seed.hashes)) {
        unseeded.push(file);
        return;
      }
      seeded.push({ file, hashes: seed.hashes, source: seed.source });
      if (seeded.length >= 256) flush();
      result.counts.sidecar += 1;
      done(file, { hashes: seed.hashes, source: seed.source, bytesRead: 0 });
    });
    flush();
    // mapLimit finishes out of order; keep the discovery order for reproducible scheduling.
    const order = new Map(files.map((file, index) => [file.path, index]));
    rest = unseeded.sort((a, b) => (order.get(a.path) ?? 0) - (order.get(b.path) ?? 0));
  }

  options.onPlanned?.({
    toRead: rest,
    bytes: rest.reduce((sum, file) => sum + file.size, 0),
    fromLedger: result.counts.ledger,
    fromSidecars: result.counts.sidecar,
  });

  // 3. Read the rest through the pool. Every file goes to the pool at once (it schedules by
  // size and opens only one file per thread), but the header reads before it are gated: all
  // of them at once would run out of file descriptors in a large library.
  const tensorOffsetOf = options.tensorOffset ?? defaultTensorOffset;
  const gate = createLimiter(OPEN_FILES_LIMIT);
  // Files read are remembered a batch per transaction (a commit per file was an eighth of the
  // main thread's time on tiny files), at the latest REMEMBER_EVERY_MS after they landed: a run
  // killed meanwhile hashes those again, one stopped by Ctrl-C keeps them (the final flush).
  const hashedBatch: { identity: FileIdentity; path: string; hashes: Hashes; hashedAt: number }[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  const flushHashed = () => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    if (!ledger || hashedBatch.length === 0) return;
    const batch = hashedBatch.splice(0);
    try {
      (options.store as StateStore).transaction(() => {
        for (const each of batch) ledger.remember(each.identity, each.path, each.hashes, { source: 'read', hashedAt: each.hashedAt });
      });
    } catch {
      // They are hashed again next run; the guard inside already warned.
    }
  };
  const rememberHashed = (identity: FileIdentity, filePath: string, hashes: Hashes, hashedAt: number) => {
    if (!ledger) return;
    hashedBatch.push({ identity, path: filePath, hashes, hashedAt });
    if (hashedBatch.length >= REMEMBER_BATCH) flushHashed();
    else flushTimer ??= setTimeout(flushHashed, REMEMBER_EVERY_MS);
  };
  await Promise.all(
    rest.map(async (file) => {
      try {
        options.signal?.throwIfAborted();
        const tensorOffset = await gate(async () => {
          options.signal?.throwIfAborted();
          return tensorOffsetOf(file);
        });
        const submittedAt = Date.now();
        const hashed = await options.pool.hash(
          { path: file.path, types: options.types, tensorOffset, size: file.size },
          { signal: options.signal, ...(options.onBytes ? { onProgress: (bytes: number) => options.onBytes?.(file, bytes) } : {}) },
        );
        result.bytesRead += hashed.bytesRead;
        rememberHashed(hashed.identity, file.path, hashed.hashes, submittedAt);
        result.counts.read += 1;
        done(file, { hashes: hashed.hashes, source: 'read', bytesRead: hashed.bytesRead });
      } catch (error) {
        fail(file, error);
      }
    }),
  ).finally(flushHashed);
  return result;
}

/** As the engine did before the pool: safetensors get AutoV3, an empty other file is an error. */
export async function defaultTensorOffset(file: DiscoveredFile): Promise<number | undefined> {
  if (file.ext === '.safetensors') {
    const header = await readSafetensorsHeader(file.path);
    return 8 + header.headerLength;
  }
  if (file.size === 0) throw new ModelFileError('empty file (0 bytes)');
  return undefined;
}
