/**
 * The hashes beyond the first read (`scanner.complete_hashes`, default on): AutoV3, CRC32 and
 * BLAKE3 of a file CivitAI identified are taken from its answer (`files[].hashes` of the file
 * with our SHA-256), so an identified file is read once; a file CivitAI does not know gets
 * AutoV3 (safetensors only) and CRC32 computed in a second read, once: the ledger keeps them.
 */
import { isSet } from '../records/lazy.ts';
import type { HashType, Hashes } from '../records/schema.ts';
import { factsOf } from '../records/version-facts.ts';
import type { RunContext, WorkItem } from '../run.ts';
import type { FileIdentity, StateStore } from '../state/index.ts';
import { readHeaderOnce } from './training.ts';
import { formatBytes } from '../util/format.ts';

/** Taken from CivitAI's answer when missing. */
const FROM_CIVITAI: readonly HashType[] = ['AutoV3', 'CRC32', 'BLAKE3'];
/** Computed for files CivitAI does not know (BLAKE3 only when `hash_types` lists it). */
const COMPUTED: readonly HashType[] = ['AutoV3', 'CRC32'];

export async function completeHashes(ctx: RunContext): Promise<void> {
  const { config, state, pool, signal } = ctx;
  if (config.scanner.complete_hashes === false) return;
  const toRead: { item: WorkItem; types: HashType[] }[] = [];
  const learned = ledgerBatch(state);
  for (const item of ctx.items) {
    const hashes = item.hashes;
    if (!hashes?.SHA256) continue;
    const status = item.identification?.status;
    if (status === 'identified' && isSet(item, 'version')) {
      // A file with every type already (any rerun) does not need its version parsed.
      if (FROM_CIVITAI.every((type) => hashes[type] !== undefined)) continue;
      const theirs = factsOf(item)?.fileHashes ?? {};
      const filled: Hashes = {};
      for (const type of FROM_CIVITAI) {
        const value = (theirs as Record<string, unknown>)[type];
        if (hashes[type] === undefined && typeof value === 'string' && value !== '') filled[type] = value.toUpperCase();
      }
      if (Object.keys(filled).length === 0) continue;
      item.hashes = { ...hashes, ...filled };
      learned.add(item.file, filled);
    } else if (status === 'not-found') {
      const types = COMPUTED.filter((type) => hashes[type] === undefined && (type !== 'AutoV3' || item.file.ext === '.safetensors'));
      if (types.length > 0) toRead.push({ item, types });
    }
  }
  learned.flush();
  if (toRead.length === 0 || signal?.aborted) return;
  const completed = { files: 0, bytes: 0 };
  await Promise.all(
    toRead.map(async ({ item, types }) => {
      try {
        const tensorOffset = types.includes('AutoV3') ? await readHeaderOnce(item).catch(() => undefined) : undefined;
        const result = await pool.hash({ path: item.file.path, types, tensorOffset, size: item.file.size }, { signal });
        completed.files += 1;
        completed.bytes += result.bytesRead;
        // The file changed since the first read: those hashes would not belong to it.
        const { size, mtimeMs } = result.identity;
        if (size !== item.file.size || mtimeMs !== item.file.mtimeMs) return;
        item.hashes = { ...item.hashes, ...result.hashes };
        learned.add(result.identity, result.hashes);
      } catch {
        // Only extra hashes: the next run tries again.
      }
    }),
  );
  learned.flush();
  ctx.log.info(`hash: AutoV3/CRC32 of ${completed.files} file${completed.files === 1 ? '' : 's'} CivitAI does not know computed (${formatBytes(completed.bytes)} read again)`);
}

/**
 * Extra hashes for the ledger, written a few hundred per transaction (one commit per file was
 * most of this stage's cost in a large library). A run killed before a flush loses only those
 * extra hashes: the next run computes them again.
 */
function ledgerBatch(state: StateStore | undefined) {
  const pending: { identity: FileIdentity; hashes: Hashes }[] = [];
  const flush = () => {
    if (!state || pending.length === 0) return;
    const batch = pending.splice(0);
    try {
      state.transaction(() => {
        for (const { identity, hashes } of batch) state.ledger.addHashes(identity, hashes);
      });
    } catch {
      // Only extra hashes; the store's guard already warned.
    }
  };
  return {
    add(identity: FileIdentity, hashes: Hashes) {
      pending.push({ identity, hashes });
      if (pending.length >= 256) flush();
    },
    flush,
  };
}
