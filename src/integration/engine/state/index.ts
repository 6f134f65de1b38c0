/** The engine's persistent state (ledger, caches, run log) and the hashing stage built on it. */
export {
  openStateStore,
  SCHEMA_VERSION,
  STATE_FILE_NAME,
  StateStoreUnavailableError,
  type StateStore,
  type StateStoreOptions,
} from './store.ts';
export {
  RACY_WINDOW_MS,
  type FileIdentity,
  type HashLedger,
  type LedgerEntry,
  type LedgerHit,
  type RememberOptions,
} from './ledger.ts';
export {
  NOT_FOUND_TTL_SECONDS,
  type CachedResponse,
  type HttpCache,
  type NotFoundCache,
  type RunLog,
  type RunRecord,
  type RunStatus,
} from './caches.ts';
export { RETRY_BASE_MS, RETRY_MAX_MS, type RetryBackoff } from './retries.ts';
export {
  ORPHAN_GRACE_MS,
  sameSidecarStat,
  type BodyField,
  type SidecarStamp,
  type SidecarStamps,
  type SidecarStat,
  type StampLookupOptions,
} from './sidecar-stamps.ts';
export {
  defaultTensorOffset,
  resolveHashes,
  type HashSource,
  type ResolvedHashes,
  type ResolveHashesOptions,
  type ResolveHashesResult,
} from './resolve-hashes.ts';
export {
  acquireCacheLock,
  CacheLockedError,
  DEFAULT_LOCK_WAIT_MS,
  LOCK_FILE_NAME,
  LOCK_WAIT_ENV,
  lockWaitMs,
  type AcquireCacheLockOptions,
  type CacheLock,
  type LockHolder,
  withCacheLock,
} from './lock.ts';
