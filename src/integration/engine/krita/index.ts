/** Krita AI Diffusion `loras.json` trigger-word sync. */
export { kritaLorasFileCandidates, findKritaLorasFile } from './locate.ts';
export {
  syncKritaTriggers,
  planKritaSync,
  applyKritaSyncPlan,
  computeKritaSync,
  KritaSyncError,
  type KritaSyncOptions,
  type KritaSyncPlan,
  type KritaSyncReport,
  type KritaSyncCounts,
  type KritaSyncOutcome,
  type KritaEntryReport,
  type EntryAction,
} from './sync.ts';
export { runSyncLoraTriggersJob, resolveMergePolicy, type SyncLoraTriggersJobOptions } from './job.ts';
export { MERGE_POLICIES, formatKritaTriggers, sha256HexToKritaHash, kritaHashToSha256Hex, type MergePolicy } from './triggers.ts';
export type { MatchMethod } from './match.ts';
