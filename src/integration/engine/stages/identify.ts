import type { ModelVersion } from '../civitai/schemas.ts';
import { identifyBySha256, type Identification } from '../enrich/identify.ts';
import type { RunContext, WorkItem } from '../run.ts';
import type { StateStore } from '../state/index.ts';
import type { Logger } from '../util/logger.ts';

/** Reuses what sidecars say where allowed, then asks CivitAI by SHA-256 about the rest. */
export async function identify(ctx: RunContext): Promise<void> {
  const { job, items, forceRefresh, state, report, progress } = ctx;
  const reuse = !forceRefresh && (job.skip_existing || job.use_cached_metadata);
  // A sidecar written while CivitAI was failing is completed by the next run.
  const toLookUp = job.use_cached_metadata ? [] : items.filter((item) => !(reuse && item.stored && !item.stored.incomplete));
  ctx.toLookUp = toLookUp;
  for (const item of items) {
    if (item.stored && !toLookUp.includes(item)) {
      item.version = item.stored.version;
      item.model = item.stored.model;
      item.images = item.stored.images;
      item.checkedAt = item.stored.checkedAt;
      item.identification = { status: 'identified', version: item.stored.version };
    }
  }
  // A hash CivitAI answered 404 for within a week is not asked again (unless forced).
  const knownMissing = (hash: string) => !forceRefresh && state?.notFound.isFresh(hash) === true;
  const sha256s = toLookUp.map((item) => item.hashes?.SHA256?.toUpperCase()).filter((hash): hash is string => Boolean(hash));
  progress?.({ stage: 'identify', phase: 'start', done: 0, total: sha256s.length });
  const answers = await identifyBySha256(ctx.client, sha256s.filter((hash) => !knownMissing(hash)));
  for (const hash of sha256s) if (knownMissing(hash)) answers.set(hash, { status: 'not-found' });
  recordLookups(state, answers, forceRefresh, ctx.log);
  progress?.({ stage: 'identify', phase: 'end', done: sha256s.length, total: sha256s.length });
  const checkedAt = new Date().toISOString();
  for (const item of toLookUp) {
    const answer = answers.get(item.hashes?.SHA256?.toUpperCase() ?? '');
    item.identification = answer ?? { status: 'unknown', error: 'no SHA-256 to look up' };
    item.fresh = true;
    if (answer?.status === 'identified') {
      item.version = answer.version;
      item.checkedAt = checkedAt;
      // Hashes seeded from another tool's sidecar may be stale: read the file next time.
      if (sizeMismatch(answer.version, item)) state?.ledger.forget(item.file.path);
    } else if (item.sidecar.kind === 'own') {
      // A failed or negative lookup never replaces what an earlier run stored.
      item.version = item.sidecar.stored.version;
      item.model = item.sidecar.stored.model;
      item.images = item.sidecar.stored.images;
      item.checkedAt = item.sidecar.stored.checkedAt;
    }
    if (answer?.status === 'unknown') report.fail(item.file.path, 'identify', answer.error);
  }
  report.api.identified = items.filter((item) => item.identification?.status === 'identified').length;
  report.api.notFound = items.filter((item) => item.identification?.status === 'not-found').length;
  ctx.log.info(`identify: ${report.api.identified} identified, ${report.api.notFound} not on CivitAI`);
}

/**
 * 404s are remembered for a week; a hash found after all is forgotten from that list. Only
 * bookkeeping for the next run: a store that cannot take it (the disk failed) never stops this one.
 */
function recordLookups(state: StateStore | undefined, answers: Map<string, Identification>, forced: boolean, log: Logger): void {
  if (!state) return;
  try {
    state.transaction(() => {
      for (const [hash, answer] of answers) {
        if (answer.status === 'identified') state.notFound.remove(hash);
        else if (answer.status === 'not-found' && (forced || !state.notFound.isFresh(hash))) state.notFound.add(hash);
      }
    });
  } catch (error) {
    log.warn(`state store ${state.path}: recording the lookups failed (${error instanceof Error ? error.message : String(error)}); the next run asks again`);
  }
}

/**
 * CivitAI's file with our hash should be our size (`sizeKB` is bytes / 1024); a different size
 * means a wrong hash on CivitAI's side or a stale hash on ours.
 */
export function sizeMismatch(version: ModelVersion, item: WorkItem): string | undefined {
  const sha = item.hashes?.SHA256?.toUpperCase();
  const match = (version.files ?? []).find((file) => file.hashes?.SHA256?.toUpperCase() === sha);
  if (typeof match?.sizeKB !== 'number') return undefined;
  const theirs = Math.round(match.sizeKB * 1024);
  if (Math.abs(theirs - item.file.size) <= 1024) return undefined;
  return `CivitAI's file for this hash is ${theirs} bytes, this one is ${item.file.size}`;
}
