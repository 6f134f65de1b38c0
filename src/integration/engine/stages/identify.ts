import type { ModelVersion } from '../civitai/schemas.ts';
import { SourceNameSchema, type SourceName } from '../config/schema.ts';
import type { Identification } from '../enrich/identify.ts';
import type { RunContext, WorkItem } from '../run.ts';
import { slimModel, type StoredSidecar } from '../sidecars/metadata.ts';
import { lookUpInOrder } from '../sources/chain.ts';
import { fetchLinkedVersions, resolveLinks } from '../sources/links.ts';
import type { StateStore } from '../state/index.ts';
import { reuseStored } from './read-sidecars.ts';
import type { Logger } from '../util/logger.ts';

/**
 * Reuses what sidecars say where allowed, then asks the sources (in `sources.order`) by SHA-256
 * about the rest. Data CivitAI gave once is never replaced by archive data, nor dropped when
 * CivitAI now answers 404 (flagged `removedFromCivitai` instead).
 */
export async function identify(ctx: RunContext): Promise<void> {
  const { job, items, forceRefresh, state, report, progress } = ctx;
  const reuse = !forceRefresh && (job.skip_existing || job.use_cached_metadata);
  const links = await resolveLinks(ctx);
  // A sidecar written while CivitAI was failing is completed by the next run; a new manual link too.
  const toLookUp = job.use_cached_metadata
    ? []
    : items.filter((item) => !(reuse && item.stored && !item.stored.incomplete && !linkChanged(item, links.get(item))));
  ctx.toLookUp = toLookUp;
  const lookingUp = new Set(toLookUp);
  for (const item of items) {
    if (item.stored && !lookingUp.has(item)) reuseStored(item, storedFlags(item.stored));
  }
  // A hash every source answered 404 for within a week is not sent again (unless forced).
  const knownMissing = (hash: string) => !forceRefresh && state?.notFound.isFresh(hash) === true;
  const linked = await fetchLinkedVersions(ctx, toLookUp.flatMap((item) => (links.has(item) ? [links.get(item) as number] : [])));
  const byHash = toLookUp.filter((item) => !links.has(item));
  const sha256s = byHash.map((item) => item.hashes?.SHA256?.toUpperCase()).filter((hash): hash is string => Boolean(hash));
  progress?.({ stage: 'identify', phase: 'start', done: 0, total: sha256s.length });
  const { results: answers, saidNo } = await lookUpInOrder(ctx.sources.sources, sha256s, knownMissing);
  recordLookups(state, answers, forceRefresh, ctx.log);
  progress?.({ stage: 'identify', phase: 'end', done: sha256s.length, total: sha256s.length });
  const checkedAt = new Date().toISOString();
  const nothingToAsk = ctx.sources.sources.length === 0 && ctx.network !== 'online';
  if (nothingToAsk && sha256s.length > 0) {
    ctx.log.warn(`identify: --${ctx.network} and no sources.archive_db: ${sha256s.length} file(s) not identified (not checked); run online or set sources.archive_db`);
  }
  for (const item of toLookUp) {
    const sha = item.hashes?.SHA256?.toUpperCase() ?? '';
    const linkId = links.get(item);
    const answer: Identification | undefined = linkId !== undefined ? linked.get(linkId) : answers.get(sha);
    // What a removed manual link gave is not kept: the file is identified by hash again.
    const own = item.sidecar.kind === 'own' ? item.sidecar.stored : undefined;
    const stored = own && !(own.linked && linkId === undefined) ? own : undefined;
    const civitaiSaidNo = ['civitai', 'civitai_red'].some((name) => saidNo.get(sha)?.has(name as SourceName));
    item.fresh = true;
    if (answer?.status === 'identified' && !(stored && fromApi(stored) && !answer.linked && isArchive(answer.source))) {
      item.identification = answer;
      item.version = answer.version;
      if (answer.model) item.model = slimModel(answer.model);
      item.checkedAt = checkedAt;
      // Hashes seeded from another tool's sidecar may be stale: read the file next time.
      if (!answer.linked && sizeMismatch(answer.version, item)) state?.ledger.forget(item.file.path);
    } else if (stored) {
      // A failed or negative lookup, or archive data, never replaces what an earlier run stored.
      item.version = stored.version;
      item.model = stored.model;
      item.images = stored.images;
      item.checkedAt = stored.checkedAt;
      const removed = fromApi(stored) && (civitaiSaidNo || stored.removedFromCivitai === true) && answer?.status !== 'unknown';
      item.identification =
        answer?.status === 'unknown' && !removed
          ? answer
          : {
              status: 'identified',
              version: stored.version,
              ...storedFlags(stored),
              ...(stored.model ? { model: stored.model } : {}),
              ...(removed ? { removedFromCivitai: true } : {}),
            };
    } else if (nothingToAsk && linkId === undefined) {
      // --offline / --no-remote without an archive: not checked, not a failure.
      item.identification = undefined;
      item.fresh = false;
    } else {
      item.identification = answer ?? { status: 'unknown', error: 'no SHA-256 to look up' };
    }
    if (item.identification?.status === 'unknown') report.fail(item.file.path, 'identify', item.identification.error);
  }
  report.api.identified = items.filter((item) => item.identification?.status === 'identified').length;
  report.api.notFound = items.filter((item) => item.identification?.status === 'not-found').length;
  const bySource = new Map<string, number>();
  for (const item of toLookUp) {
    if (item.identification?.status === 'identified' && item.identification.source && item.fresh) {
      const key = item.identification.linked ? `${item.identification.source}, linked by hand` : item.identification.source;
      bySource.set(key, (bySource.get(key) ?? 0) + 1);
    }
  }
  const from = [...bySource].map(([name, count]) => `${count} from ${name}`).join(', ');
  ctx.log.info(`identify: ${report.api.identified} identified${from ? ` (${from})` : ''}, ${report.api.notFound} not found in any source`);
  const archiveOnly = ctx.sources.sources.length > 0 && ctx.sources.sources.every((source) => source.local);
  // Said even when a front end draws progress: the data may be older than CivitAI's.
  if (archiveOnly && ctx.sources.archive && sha256s.length > 0) {
    ctx.log.warn(`identify: ran from the archive ${ctx.sources.archive.file} (${ctx.network === 'online' ? 'sources.order lists no remote source' : `--${ctx.network}`}: no hash left this machine; its data may be older than CivitAI's)`);
  }
  for (const skipped of ctx.sources.skipped) ctx.log.debug(`identify: source ${skipped.name} skipped: ${skipped.reason}`);
}

const isArchive = (source: SourceName | undefined) => source === 'archive_db' || source === 'civarchive';
/** Stored data that came from the CivitAI API (older runs recorded no source: only the API existed). */
const fromApi = (stored: StoredSidecar) => stored.source === undefined || stored.source === 'civitai' || stored.source === 'civitai_red';

function storedFlags(stored: StoredSidecar): Pick<Extract<Identification, { status: 'identified' }>, 'source' | 'linked' | 'removedFromCivitai'> {
  const source = SourceNameSchema.safeParse(stored.source);
  return {
    ...(source.success ? { source: source.data } : {}),
    ...(stored.linked ? { linked: true } : {}),
    ...(stored.removedFromCivitai ? { removedFromCivitai: true } : {}),
  };
}

/** A link that points elsewhere than what the sidecar holds is looked up again. */
function linkChanged(item: WorkItem, linkId: number | undefined): boolean {
  if (linkId === undefined) return Boolean(item.stored?.linked);
  return linkId !== item.stored?.version.id || !item.stored?.linked;
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
