/**
 * Back-off for models a run could not complete (a preview download or the parent model failed:
 * the sidecar says `incomplete`). Without it every run looked such a model up again, retried the
 * download and rewrote its sidecar (a new `checkedAt`) — 49 of 1,000 sidecars churned per run.
 * Now the next run still tries once more (a passing outage: "a clean rerun completes it"); when
 * that fails too, the model waits RETRY_BASE_MS, then twice as long after each failure, at most
 * RETRY_MAX_MS; until then it is rebuilt from its sidecar and nothing of it is written.
 */
import type { StoreContext } from './store.ts';

export const RETRY_BASE_MS = 60 * 60 * 1000;
export const RETRY_MAX_MS = 7 * 24 * 60 * 60 * 1000;

export interface RetryBackoff {
  /** True when `key` failed before and its next attempt is not due yet. */
  waiting(key: string): boolean;
  /** Records a failed attempt; returns when the next one is due (epoch ms). */
  failed(key: string): number;
  /** The attempt succeeded: forget the failures. */
  clear(key: string): void;
}

export function createRetryBackoff({ db, now, guard }: StoreContext): RetryBackoff {
  const select = db.prepare('SELECT attempts, next_at FROM retries WHERE key = ?');
  const upsert = db.prepare(
    'INSERT INTO retries (key, attempts, next_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET attempts = excluded.attempts, next_at = excluded.next_at',
  );
  const remove = db.prepare('DELETE FROM retries WHERE key = ?');
  const row = (key: string) => select.get(key) as { attempts?: number; next_at?: number } | undefined;
  return {
    waiting(key) {
      return guard('retry read', false, () => {
        const found = row(key);
        return typeof found?.next_at === 'number' && found.next_at > now();
      });
    },
    failed(key) {
      return guard('retry write', 0, () => {
        const attempts = (row(key)?.attempts ?? 0) + 1;
        const next = attempts <= 1 ? now() : now() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempts - 2, 20));
        upsert.run(key, attempts, next);
        return next;
      });
    },
    clear(key) {
      guard('retry write', undefined, () => {
        remove.run(key);
      });
    },
  };
}
