import type { CivitaiClient } from '../civitai/client.ts';
import type { ModelVersion, VersionImage } from '../civitai/schemas.ts';
import type { Config } from '../config/schema.ts';
import { messageOf } from '../enrich/identify.ts';
import { NSFW_LEVEL_VALUES, isNsfwVersion } from '../media/nsfw.ts';
import { downloadPreviews, selectImages } from '../media/previews.ts';
import type { RunContext, WorkItem } from '../run.ts';
import { mapLimit } from '../util/map-limit.ts';

/** Previews of the versions identified in this run, within the job's count and NSFW limits. */
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
  await mapLimit(
    ctx.items.filter((item) => item.fresh && item.identification?.status === 'identified' && item.version),
    config.api.batch.max_concurrent,
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
      const outcome = await downloadPreviews({
        client,
        images: selectImages(candidates ?? version.images ?? [], policy),
        layout: item.layout,
        previous,
        policy,
        dryRun,
      });
      const degraded = candidates === undefined || outcome.problems.length > 0;
      if (degraded) item.incomplete = true;
      // A failed feed or download never leaves a model with fewer previews than it had.
      item.images = degraded && outcome.images.length < previous.length ? previous : outcome.images;
      report.images.downloaded += outcome.downloaded;
      report.images.reused += outcome.reused;
      report.images.failed += outcome.problems.length;
      item.problems.push(...outcome.problems);
    },
  );
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
  if (maxCount === 0 || maxNsfwLevel <= NSFW_LEVEL_VALUES.PG || !isNsfwVersion(version, config.api.nsfw.level_threshold)) {
    return inline;
  }
  try {
    const feed = await client.getImages({
      modelVersionId: version.id,
      nsfw: config.api.nsfw.browsing_level,
      limit: Math.max(20, maxCount * 3),
    });
    return feed.items.length > 0 ? feed.items : inline;
  } catch (error) {
    item.problems.push({ stage: 'images', message: `NSFW preview feed: ${messageOf(error)}` });
    // undefined: the full list is unknown this time (the caller keeps what it had).
    return undefined;
  }
}
