/**
 * The hash ledger: what we know about a file's hashes, keyed by its identity (device, inode)
 * and valid while its size and mtime are unchanged. A file that stays in place, or is renamed or
 * moved within the same device (same inode), is found again without reading a byte of it.
 */
import { HASH_TYPES, type Hashes } from '../records/schema.ts';
import type { TrainingSummary } from '../records/training.ts';
import type { StoreContext } from './store.ts';

/** What `fs.stat` tells about a file, enough to recognise it without reading it. */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

export interface LedgerEntry extends FileIdentity {
  /** Where the file was last seen. */
  path: string;
  hashes: Hashes;
  /** `read` when we hashed the bytes ourselves, else the sidecar format the hashes came from. */
  source: string;
  /** Epoch ms when the hashing started (or the sidecar was read). */
  hashedAt: number;
  /** Epoch ms when a run last found the file. */
  seenAt: number;
  /** Its safetensors header's training summary (`null`: none); absent when not read yet. */
  training?: TrainingSummary | null;
}

export interface LedgerHit {
  entry: LedgerEntry;
  /** `identity`: same device and inode; `path`: same path, size and mtime but a new inode/device number. */
  how: 'identity' | 'path';
  /** The file was found under another path than the one recorded. */
  moved: boolean;
}

export interface RememberOptions {
  /** Default `read`. */
  source?: string;
  /** Default: now. Pass the time hashing *started*, so a change during the read is caught. */
  hashedAt?: number;
}

export interface HashLedger {
  /** The entry for this device+inode if size and mtime are unchanged (and the entry is trustworthy). */
  lookup(identity: FileIdentity): LedgerEntry | undefined;
  /** The entry recorded under this path if size and mtime are unchanged. */
  lookupByPath(path: string, size: number, mtimeMs: number): LedgerEntry | undefined;
  /** `lookup`, then `lookupByPath` (device numbers change across remounts on some systems). */
  find(file: FileIdentity & { path: string }): LedgerHit | undefined;
  /**
   * Records hashes for a file. Hashes of an entry with the same identity, size and mtime are
   * merged (new values win); a changed file's entry is replaced. Another file recorded under the
   * same path is dropped: the path now belongs to this one.
   */
  remember(identity: FileIdentity, path: string, hashes: Hashes, options?: RememberOptions): void;
  /**
   * Adds hashes to the entry of this identity when its size and mtime are unchanged, keeping
   * its source and hashing time (hashes CivitAI gave, or a second pass for more types).
   */
  addHashes(identity: FileIdentity, hashes: Hashes): void;
  /** Records the training summary of the file with this identity when size and mtime are unchanged. */
  setTraining(identity: FileIdentity, training: TrainingSummary | null): void;
  /** Marks entries as seen in this run (and updates their path) so `prune` keeps them. */
  touch(files: readonly (FileIdentity & { path: string })[]): void;
  /** Drops what is recorded under `path`; returns how many entries went. */
  forget(path: string): number;
  /** Drops entries no run has seen for `maxAgeSeconds`; returns how many went. */
  prune(maxAgeSeconds: number): number;
  count(): number;
}

/**
 * An entry whose file was modified less than this before it was hashed is not trusted: on file
 * systems with coarse timestamps (FAT: 2 s, some network shares: 1 s) a second write in the same
 * tick would leave size and mtime unchanged. Such a file is simply hashed again next time.
 */
export const RACY_WINDOW_MS = 2000;

const HASH_TYPE_SET: ReadonlySet<string> = new Set(HASH_TYPES);

/**
 * A row as `remember` wrote it, or undefined. Checked by hand rather than with zod: these are our
 * own rows, read once per file per run, and a zod pass per row was a visible part of a run over
 * 50,000 files. Same rules as the row's zod shape and HashesSchema (known hash types, text values).
 */
function checkRow(raw: unknown): (Omit<LedgerEntry, 'dev' | 'ino'> & { dev: string; ino: string }) | undefined {
  const row = raw as Record<string, unknown> | undefined;
  if (
    !row ||
    typeof row.dev !== 'string' ||
    typeof row.ino !== 'string' ||
    typeof row.size !== 'number' ||
    typeof row.mtime_ms !== 'number' ||
    typeof row.path !== 'string' ||
    typeof row.hashes !== 'string' ||
    typeof row.source !== 'string' ||
    typeof row.hashed_at !== 'number' ||
    typeof row.seen_at !== 'number'
  ) {
    return undefined;
  }
  let training: TrainingSummary | null | undefined;
  if (typeof row.training === 'string') {
    try {
      const parsed = JSON.parse(row.training) as unknown;
      // Written by setTraining from a summary; anything else is as good as unknown.
      if (parsed === null || (typeof parsed === 'object' && !Array.isArray(parsed))) training = parsed as TrainingSummary | null;
    } catch {
      training = undefined;
    }
  }
  let hashes: unknown;
  try {
    hashes = JSON.parse(row.hashes);
  } catch {
    return undefined;
  }
  if (!hashes || typeof hashes !== 'object' || Array.isArray(hashes)) return undefined;
  for (const [type, value] of Object.entries(hashes)) if (!HASH_TYPE_SET.has(type) || typeof value !== 'string') return undefined;
  return {
    dev: row.dev,
    ino: row.ino,
    size: row.size,
    mtimeMs: row.mtime_ms,
    path: row.path,
    hashes: hashes as Hashes,
    source: row.source,
    hashedAt: row.hashed_at,
    seenAt: row.seen_at,
    ...(training !== undefined ? { training } : {}),
  };
}

export function createLedger(context: StoreContext): HashLedger {
  const { db, now, guard } = context;
  const byIdentity = db.prepare('SELECT * FROM ledger WHERE dev = ? AND ino = ?');
  const byPath = db.prepare('SELECT * FROM ledger WHERE path = ?');
  const upsert = db.prepare(`
    INSERT INTO ledger (dev, ino, size, mtime_ms, path, hashes, source, hashed_at, seen_at, training)
    VALUES ($dev, $ino, $size, $mtime, $path, $hashes, $source, $hashedAt, $seenAt, $training)
    ON CONFLICT (dev, ino) DO UPDATE SET
      size = excluded.size, mtime_ms = excluded.mtime_ms, path = excluded.path, hashes = excluded.hashes,
      source = excluded.source, hashed_at = excluded.hashed_at, seen_at = excluded.seen_at, training = excluded.training
  `);
  const updateTraining = db.prepare('UPDATE ledger SET training = ? WHERE dev = ? AND ino = ? AND size = ? AND mtime_ms = ?');
  const dropPathOfOthers = db.prepare('DELETE FROM ledger WHERE path = ? AND NOT (dev = ? AND ino = ?)');
  const updateHashes = db.prepare('UPDATE ledger SET hashes = ? WHERE dev = ? AND ino = ?');
  const touchOne = db.prepare('UPDATE ledger SET seen_at = ?, path = ? WHERE dev = ? AND ino = ?');
  const forgetPath = db.prepare('DELETE FROM ledger WHERE path = ?');
  const pruneOld = db.prepare('DELETE FROM ledger WHERE seen_at < ?');
  const countAll = db.prepare('SELECT COUNT(*) AS n FROM ledger');

  const toEntry = (raw: unknown): LedgerEntry | undefined => {
    const row = checkRow(raw);
    return row ? { ...row, dev: Number(row.dev), ino: Number(row.ino) } : undefined;
  };

  const valid = (entry: LedgerEntry | undefined, size: number, mtimeMs: number): entry is LedgerEntry =>
    entry !== undefined &&
    entry.size === size &&
    entry.mtimeMs === mtimeMs &&
    entry.hashedAt - entry.mtimeMs >= RACY_WINDOW_MS;

  const lookup = (identity: FileIdentity): LedgerEntry | undefined =>
    guard('ledger lookup', undefined, () => {
      const entry = toEntry(byIdentity.get(String(identity.dev), String(identity.ino)));
      return valid(entry, identity.size, identity.mtimeMs) ? entry : undefined;
    });

  const lookupByPath = (filePath: string, size: number, mtimeMs: number): LedgerEntry | undefined =>
    guard('ledger lookup', undefined, () => {
      for (const raw of byPath.all(filePath)) {
        const entry = toEntry(raw);
        if (valid(entry, size, mtimeMs)) return entry;
      }
      return undefined;
    });

  return {
    lookup,
    lookupByPath,
    find(file) {
      const same = lookup(file);
      if (same) return { entry: same, how: 'identity', moved: same.path !== file.path };
      const byName = lookupByPath(file.path, file.size, file.mtimeMs);
      if (byName) return { entry: byName, how: 'path', moved: false };
      return undefined;
    },
    remember(identity, filePath, hashes, options = {}) {
      guard('ledger write', undefined, () => {
        const dev = String(identity.dev);
        const ino = String(identity.ino);
        const existing = toEntry(byIdentity.get(dev, ino));
        const sameContent =
          existing !== undefined && existing.size === identity.size && existing.mtimeMs === identity.mtimeMs;
        const merged: Hashes = sameContent ? { ...existing.hashes, ...hashes } : { ...hashes };
        const at = now();
        dropPathOfOthers.run(filePath, dev, ino);
        upsert.run({
          dev,
          ino,
          size: identity.size,
          mtime: identity.mtimeMs,
          path: filePath,
          hashes: JSON.stringify(merged),
          source: options.source ?? 'read',
          hashedAt: options.hashedAt ?? at,
          seenAt: at,
          // What the header said stays true while the content is the same.
          training: sameContent && existing.training !== undefined ? JSON.stringify(existing.training) : null,
        });
      });
    },
    addHashes(identity, hashes) {
      guard('ledger write', undefined, () => {
        const existing = toEntry(byIdentity.get(String(identity.dev), String(identity.ino)));
        if (!existing || existing.size !== identity.size || existing.mtimeMs !== identity.mtimeMs) return;
        updateHashes.run(JSON.stringify({ ...existing.hashes, ...hashes }), String(identity.dev), String(identity.ino));
      });
    },
    setTraining(identity, training) {
      guard('ledger write', undefined, () => {
        updateTraining.run(JSON.stringify(training), String(identity.dev), String(identity.ino), identity.size, identity.mtimeMs);
      });
    },
    touch(files) {
      guard('ledger write', undefined, () => {
        const at = now();
        for (const file of files) touchOne.run(at, file.path, String(file.dev), String(file.ino));
      });
    },
    forget(filePath) {
      return guard('ledger write', 0, () => Number(forgetPath.run(filePath).changes));
    },
    prune(maxAgeSeconds) {
      return guard('ledger write', 0, () => Number(pruneOld.run(now() - maxAgeSeconds * 1000).changes));
    },
    count() {
      return guard('ledger read', 0, () => Number((countAll.get() as { n: number }).n));
    },
  };
}
