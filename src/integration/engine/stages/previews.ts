import path from 'node:path';
import type { CivitaiClient } from '../civitai/client.ts';
import type { ModelVersion, VersionImage } from '../civitai/schemas.ts';
import type { Config } from '../config/schema.ts';
import { messageOf } from '../enrich/identify.ts';
import { NSFW_LEVEL_VALUES, isNsfwVersion } from '../media/nsfw.ts';
import { downloadPreviews, selectImages, type PreviewOutcome } from '../media/previews.ts';
import type { LocalImage } from '../records/schema.ts';
import type { RunContext, WorkItem } from '../run.ts';
import { isSet } from '../records/lazy.ts';
import { imageIsIntact } from '../sidecars/repair.ts';
import { contentMany } from '../scan/stat-many.ts';
import { DOWNLOAD_CONCURRENCY } from '../civitai/http.ts';
import { describePaths, parseTempName, withWriteBatch, writeFailureCode, writeFailureHint } from '../util/atomic-write.ts';
import { mapLimit } from '../util/map-limit.ts';

/**
 * Models whose previews are fetched at once. Twice the CDN's download slots per host, so every
 * slot stays busy while some models write or wait for the NSFW feed; the HTTP layer holds each
 * host to its own adaptive limit and API calls to `api.batch.max_concurrent`, so this only
 * bounds what waits in memory (one download each) and the files open for writing (one each,
 * well below the open-file cap).
 */
const MODELS_AT_ONCE = 2 * DOWNLOAD_CONCURRENCY;

/**
 * Previews of the versions identified in this run, within the job's count and NSFW limits; and
 * for the models not looked up this time, the previews their sidecar lists that are missing or
 * empty now, saved again under the same names. A preview that cannot be written (a read-only
 * folder, a full disk) fails its model; one that cannot be downloaded is a warning.
 */
export async function downloadImages(ctx: RunContext): Promise<void> {
  const { config, job, client, report, dryRun } = ctx;
  const imagesConfig = job.output.images;
  if (!imagesConfig.save) return;
  const policy = {
    maxCount: imagesConfig.max_count,
    maxNsfwLevel: NSFW_LEVEL_VALUES[imagesConfig.max_nsfw_level],
    width: imagesConfig.width,
    original: imagesConfig.original,
  };
  const repairedNames: string[] = [];
  const tally = (item: WorkItem, outcome: PreviewOutcome, broken: readonly LocalImage[]) => {
    report.images.downloaded += outcome.downloaded;
    report.images.failed += outcome.problems.length;
    const writeFailures = outcome.problems.filter((problem) => writeFailureCode(problem.message) !== undefined);
    item.problems.push(...outcome.problems.filter((problem) => !writeFailures.includes(problem)));
    if (writeFailures.length > 0) report.fail(item.file.path, 'images', describePreviewWriteFailures(writeFailures, item, job.output.base_dir));
    for (const image of broken) {
      const now = outcome.images.find((candidate) => candidate.url === image.url);
      if (now) repairedNames.push(path.basename(now.path));
    }
  };
  const identified = ctx.items.filter((item) => item.identification?.status === 'identified' && isSet(item, 'version'));
  const modelsAtOnce = Math.max(MODELS_AT_ONCE, config.api.batch.max_concurrent);

  // Each preview is still temp → rename (a kill -9 leaves the old file or the new one, never
  // half of one), but not fsynced one by one (at 10 ms an fsync, 20,000 previews wait minutes):
  // the folders are fsynced once when the stage ends, before any sidecar that lists them is
  // written. A power cut soon after may leave a preview empty; the next run finds it empty and
  // downloads it again (brokenImages).
  await withWriteBatch(() => fetchAll(ctx, identified, modelsAtOnce, policy, tally));

  report.images.repaired += repairedNames.length;
  if (repairedNames.length > 0) {
    const shown = repairedNames.slice(0, 3).join(', ') + (repairedNames.length > 3 ? ', …' : '');
    ctx.log.info(`images: repaired ${repairedNames.length} missing/empty preview${repairedNames.length === 1 ? '' : 's'} (${shown})`);
  }
}

type Policy = Parameters<typeof downloadPreviews>[0]['policy'];
type Tally = (item: WorkItem, outcome: PreviewOutcome, broken: readonly LocalImage[]) => void;

async function fetchAll(ctx: RunContext, identified: readonly WorkItem[], modelsAtOnce: number, policy: Policy, tally: Tally): Promise<void> {
  const { config, client, report, dryRun } = ctx;
  await mapLimit(
    identified.filter((item) => item.fresh),
    modelsAtOnce,
    async (item) => {
      const version = item.version as ModelVersion;
      const previous = item.sidecar.kind === 'own' ? item.sidecar.stored.images : [];
      const candidates = await previewCandidates(client, version, config, policy.maxNsfwLevel, policy.maxCount, item);
      if (candidates === undefined && previous.length > 0) {
        // The full list is unknown this time: keep the previews we have rather than
        // replacing them with the SFW-only inline list.
        item.incomplete = true;
        item.images = previous;
        return;
      }
      // A preview left empty or deleted is downloaded again, not taken as saved.
      const broken = dryRun ? [] : await brokenImages(previous);
      const outcome = await downloadPreviews({
        client,
        images: selectImages(candidates ?? version.images ?? [], policy),
        layout: item.layout,
        previous: previous.filter((image) => !broken.includes(image)),
        policy,
        dryRun,
      });
      const degraded = candidates === undefined || outcome.problems.length > 0;
      if (degraded) item.incomplete = true;
      // A failed feed or download never leaves a model with fewer previews than it had.
      item.images = degraded && outcome.images.length < previous.length ? previous : outcome.images;
      report.images.reused += outcome.reused;
      tally(item, outcome, broken);
    },
  );

  if (!dryRun) {
    // Not looked up this time: the previews its sidecar lists, exactly those, where broken.
    const withStored = identified.filter((item) => !item.fresh && item.sidecar.kind === 'own' && item.stored && item.images.length > 0);
    // Every saved preview of a large library is stat'ed in one batch (scan/stat-many.ts); each
    // model's answers are found by their place in it, in the order of its images.
    const paths: string[] = [];
    for (const item of withStored) {
      for (const image of item.images) {
        paths.push(image.path);
        if (image.still) paths.push(image.still);
      }
    }
    const content = await contentMany(paths);
    const brokenOf = new Map<WorkItem, LocalImage[]>();
    let at = 0;
    for (const item of withStored) {
      let broken: LocalImage[] | undefined;
      for (const image of item.images) {
        let intact = content[at++] === 1;
        if (image.still && content[at++] !== 1) intact = false;
        if (!intact) (broken ??= []).push(image);
      }
      if (broken) brokenOf.set(item, broken);
    }
    await mapLimit([...brokenOf], modelsAtOnce, async ([item, broken]) => {
      const stored = item.images;
      const outcome = await downloadPreviews({
        client,
        images: stored.map(asVersionImage),
        layout: item.layout,
        previous: stored.filter((image) => !broken.includes(image)),
        policy,
        dryRun,
      });
      item.images = stored.map((image) => {
        if (!broken.includes(image)) return image;
        const saved = outcome.images.find((candidate) => candidate.url === image.url);
        if (!saved) return image;
        const { still: _still, ...rest } = image;
        void _still;
        return { ...rest, path: saved.path, type: saved.type, ...(saved.still ? { still: saved.still } : {}) };
      });
      tally(item, outcome, broken);
    });
  }
}

/** The previews (or their still frames) an earlier run saved that are missing or empty now. */
async function brokenImages(images: readonly LocalImage[]): Promise<LocalImage[]> {
  const intact = await Promise.all(images.map((image) => imageIsIntact(image)));
  return images.filter((_, index) => !intact[index]);
}

/** A saved preview as the API listed it, to fetch it again (same URL, same place in the list). */
function asVersionImage(image: LocalImage): VersionImage {
  return {
    url: image.url,
    type: image.type,
    nsfwLevel: image.nsfwLevel,
    ...(image.width !== undefined ? { width: image.width } : {}),
    ...(image.height !== undefined ? { height: image.height } : {}),
    ...(image.blurhash ? { hash: image.blurhash } : {}),
    ...(image.meta ? { meta: image.meta } : {}),
  } as VersionImage;
}

/** One line for a model's previews that could not be written: the files, the error, what to do. */
function describePreviewWriteFailures(problems: readonly { message: string }[], item: WorkItem, baseDir: string | undefined): string {
  const first = problems[0]?.message ?? '';
  const code = writeFailureCode(first);
  const reason = first.replace(/^.*?\b(E[A-Z]+: [^,]*).*$/s, '$1');
  const files = problems.map((problem) => targetOf(problem.message)).filter((file): file is string => file !== undefined);
  const what =
    files.length === problems.length
      ? describePaths(files, 'previews')
      : `${problems.length === 1 ? 'a preview' : `${problems.length} previews`} in ${item.layout.imagesDir}`;
  return `could not write ${what} (${reason}); ${writeFailureHint(code, baseDir ? { baseDir } : {})}`;
}

/** The file a failed write was for, from the path Node's error quotes (the temp file's target). */
function targetOf(message: string): string | undefined {
  // `EACCES: permission denied, open '<path>'`, `EISDIR: …, rename '<from>' -> '<to>'` (paths may hold quotes).
  const quoted = /, [a-z]+ '(.*)'$/s.exec(message)?.[1];
  const last = quoted?.split("' -> '").at(-1);
  if (!last || !path.isAbsolute(last)) return undefined;
  const temp = parseTempName(path.basename(last));
  return temp ? path.join(path.dirname(last), temp.target) : last;
}

/**
 * By-hash answers hide the NSFW previews of NSFW models; `/images?modelVersionId=…` has them.
 * Only asked when the policy allows more than PG. A failure keeps the inline list.
 */
async function previewCandidates(
  client: CivitaiClient,
  version: ModelVersion,
  config: Config,
  maxNsfwLevel: number,
  maxCount: number,
  item: WorkItem,
): Promise<VersionImage[] | undefined> {
  const inline = version.images ?? [];
  // `sources.civitai.enabled: false`: CivitAI's API is asked nothing, this feed included.
  if (!config.sources.civitai.enabled || maxCount === 0 || maxNsfwLevel <= NSFW_LEVEL_VALUES.PG || !isNsfwVersion(version, config.api.nsfw.level_threshold)) {
    return inline;
  }
  try {
    const feed = await client.getImages({
      modelVersionId: version.id,
      nsfw: config.api.nsfw.browsing_level,
      // The image feed answers at most 200 a page (and max_count may be "no limit").
      limit: Math.min(200, Math.max(20, maxCount * 3)),
    });
    return feed.items.length > 0 ? feed.items : inline;
  } catch (error) {
    item.problems.push({ stage: 'images', message: `NSFW preview feed: ${messageOf(error)}` });
    // undefined: the full list is unknown this time (the caller keeps what it had).
    return undefined;
  }
}
