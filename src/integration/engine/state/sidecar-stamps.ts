/**
 * What we know about our own metadata sidecars, so a rerun over an unchanged library does not
 * read and validate 50,000 JSON files: when we write (or read and validate) a sidecar, we keep
 * its section (`civitscraper`, as validated) and the top-level A1111 values beside the model
 * file's identity and the sidecar's own stat (size, mtime, ctime, inode). A later run that finds
 * the model file with the same identity and the sidecar with the same stat takes the section
 * from here: one `stat` of the sidecar instead of stat + read + JSON.parse + zod.
 *
 * An edit by hand changes the sidecar's mtime and ctime (even an editor that restores the mtime
 * changes the ctime), so it is read again. On file systems with whole-second timestamps a stamp
 * taken within RACY_WINDOW_MS of the sidecar's mtime is not trusted (a second write in the same
 * tick would look unchanged).
 */
import { createHash } from 'node:crypto';
import type { StoreContext } from './store.ts';
import { RACY_WINDOW_MS, type FileIdentity } from './ledger.ts';

/** The sidecar's stat as recorded. */
export interface SidecarStat {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

export interface SidecarStamp {
  /** The model file the sidecar describes, as it was then. */
  model: FileIdentity;
  sidecar: SidecarStat;
  /** The `civitscraper` section as validated (paths relative to the sidecar's folder). */
  section: Record<string, unknown>;
  /** Top-level values of the A1111 keys (only those present), for the repair check. */
  top: Record<string, unknown>;
  /** Epoch ms when the stamp was taken. */
  at: number;
}

export interface SidecarStamps {
  /** The stamp of `sidecarPath` if the model file and the sidecar are exactly as recorded. */
  lookup(sidecarPath: string, model: FileIdentity, sidecar: SidecarStat): SidecarStamp | undefined;
  remember(sidecarPath: string, stamp: Omit<SidecarStamp, 'at'>): void;
  forget(sidecarPath: string): void;
  count(): number;
}

export function sameSidecarStat(a: SidecarStat, b: SidecarStat): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

export function createSidecarStamps({ db, now, guard }: StoreContext): SidecarStamps {
  const select = db.prepare('SELECT body FROM sidecar_stamps WHERE path = ?');
  // Parent models are kept once, by content (50 versions of one model share one body), and
  // parsed once per run: most of a sidecar's bytes are its parent model.
  const selectModel = db.prepare('SELECT body FROM stamp_models WHERE key = ?');
  const insertModel = db.prepare('INSERT OR IGNORE INTO stamp_models (key, body) VALUES (?, ?)');
  const parsedModels = new Map<string, unknown>();
  const modelOf = (key: string): unknown => {
    if (parsedModels.has(key)) return parsedModels.get(key);
    const row = selectModel.get(key) as { body?: unknown } | undefined;
    const model = typeof row?.body === 'string' ? (JSON.parse(row.body) as unknown) : undefined;
    parsedModels.set(key, model);
    return model;
  };
  const upsert = db.prepare(
    'INSERT INTO sidecar_stamps (path, body, stamped_at) VALUES (?, ?, ?) ON CONFLICT (path) DO UPDATE SET body = excluded.body, stamped_at = excluded.stamped_at',
  );
  const remove = db.prepare('DELETE FROM sidecar_stamps WHERE path = ?');
  const countAll = db.prepare('SELECT COUNT(*) AS n FROM sidecar_stamps');
  return {
    lookup(sidecarPath, model, sidecar) {
      return guard('sidecar stamp read', undefined, () => {
        const row = select.get(sidecarPath) as { body?: unknown } | undefined;
        if (typeof row?.body !== 'string') return undefined;
        let stamp: SidecarStamp & { modelKey?: string };
        try {
          stamp = JSON.parse(row.body) as SidecarStamp & { modelKey?: string };
        } catch {
          return undefined;
        }
        if (!stamp || typeof stamp !== 'object' || !stamp.model || !stamp.sidecar || !stamp.section || typeof stamp.section !== 'object') return undefined;
        const m = stamp.model;
        if (m.dev !== model.dev || m.ino !== model.ino || m.size !== model.size || m.mtimeMs !== model.mtimeMs) return undefined;
        if (!sameSidecarStat(stamp.sidecar, sidecar)) return undefined;
        // Whole-second timestamps: a write in the same tick as the stamp would not show.
        const coarse = sidecar.mtimeMs % 1000 === 0;
        if (coarse && stamp.at - sidecar.mtimeMs < RACY_WINDOW_MS) return undefined;
        if (stamp.modelKey !== undefined) {
          let model: unknown;
          try {
            model = modelOf(stamp.modelKey);
          } catch {
            return undefined;
          }
          if (!model) return undefined;
          const { modelKey: _key, ...rest } = stamp;
          void _key;
          return { ...rest, section: { ...stamp.section, model } };
        }
        return stamp;
      });
    },
    remember(sidecarPath, stamp) {
      guard('sidecar stamp write', undefined, () => {
        const at = now();
        const { model, ...section } = stamp.section;
        if (model === undefined) {
          upsert.run(sidecarPath, JSON.stringify({ ...stamp, at }), at);
          return;
        }
        const text = JSON.stringify(model);
        const modelKey = createHash('sha256').update(text).digest('base64url');
        insertModel.run(modelKey, text);
        upsert.run(sidecarPath, JSON.stringify({ ...stamp, section, modelKey, at }), at);
      });
    },
    forget(sidecarPath) {
      guard('sidecar stamp write', undefined, () => {
        remove.run(sidecarPath);
      });
    },
    count() {
      return guard('sidecar stamp read', 0, () => Number((countAll.get() as { n: number }).n));
    },
  };
}
