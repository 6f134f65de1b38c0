import { access } from 'node:fs/promises';
import path from 'node:path';
import type { CivitaiClient } from '../civitai/client.ts';
import type { VersionImage } from '../civitai/schemas.ts';
import type { LocalImage } from '../records/schema.ts';
import type { SidecarLayout } from '../sidecars/paths.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import { messageOf } from '../enrich/identify.ts';
import { cdnRendition } from './cdn.ts';
import { imageNsfwLevel } from './nsfw.ts';
import { isCompleteMedia, sniffMediaType } from './sniff.ts';

export interface PreviewPolicy {
  maxCount: number;
  /** Highest image level (bit value) that may be downloaded. */
  maxNsfwLevel: number;
  /** Width asked of the CDN; ignored with `original`. */
  width: number;
  original: boolean;
}

/** The API's order, without images above the allowed level, at most `maxCount`. */
export function selectImages(images: readonly VersionImage[], policy: Pick<PreviewPolicy, 'maxCount' | 'maxNsfwLevel'>): VersionImage[] {
  return images.filter((image) => imageNsfwLevel(image) <= policy.maxNsfwLevel).slice(0, policy.maxCount);
}

export interface PreviewOutcome {
  images: LocalImage[];
  downloaded: number;
  reused: number;
  problems: { stage: string; message: string }[];
}

/**
 * Downloads the chosen previews next to the model (or into base_dir), at the configured CDN
 * width; a video also gets a still frame (`anim=false`) for places that cannot play it. An
 * image already on disk from an earlier run (same URL) is reused, not fetched again. Each file
 * is written atomically, so a failed download leaves nothing behind.
 */
export async function downloadPreviews(options: {
  client: CivitaiClient;
  images: readonly VersionImage[];
  layout: SidecarLayout;
  previous: readonly LocalImage[];
  policy: PreviewPolicy;
  dryRun: boolean;
}): Promise<PreviewOutcome> {
  const outcome: PreviewOutcome = { images: [], downloaded: 0, reused: 0, problems: [] };
  const previousByUrl = new Map(options.previous.map((image) => [image.url, image]));
  const rendition = { width: options.policy.width, original: options.policy.original };
  let index = 0;
  for (const image of options.images) {
    index += 1;
    const base = describe(image);
    const earlier = previousByUrl.get(image.url);
    // Reused only in the same place: the n-th preview keeps the n-th name even when the list
    // changed (e.g. the NSFW feed answered this time and not the last).
    const samePlace = earlier !== undefined && path.basename(earlier.path) === options.layout.previewName(index, path.extname(earlier.path));
    if (earlier && samePlace && (await exists(earlier.path)) && (!earlier.still || (await exists(earlier.still)))) {
      const reused: LocalImage = { ...base, type: earlier.type, path: earlier.path, ...(earlier.still ? { still: earlier.still } : {}) };
      outcome.reused += 1;
      if (reused.type === 'video' && !reused.still && !options.dryRun) {
        // An earlier run got the video but not its still frame: fetch just that.
        try {
          const still = await fetchMedia(options.client, cdnRendition(image.url, { ...rendition, still: true }), options.layout, index, '.still');
          if (still.kind === 'image') reused.still = still.path;
          outcome.downloaded += 1;
        } catch (error) {
          outcome.problems.push({ stage: 'images', message: `still frame of video ${index} (${image.url}): ${messageOf(error)}` });
        }
      }
      outcome.images.push(reused);
      continue;
    }
    if (options.dryRun) continue;
    try {
      const saved = await fetchMedia(options.client, cdnRendition(image.url, rendition), options.layout, index, '');
      const local: LocalImage = { ...base, path: saved.path, type: saved.kind };
      outcome.downloaded += 1;
      if (saved.kind === 'video') {
        try {
          const still = await fetchMedia(options.client, cdnRendition(image.url, { ...rendition, still: true }), options.layout, index, '.still');
          if (still.kind === 'image') local.still = still.path;
          outcome.downloaded += 1;
        } catch (error) {
          outcome.problems.push({ stage: 'images', message: `still frame of video ${index} (${image.url}): ${messageOf(error)}` });
        }
      }
      outcome.images.push(local);
    } catch (error) {
      outcome.problems.push({ stage: 'images', message: `preview ${index} (${image.url}): ${messageOf(error)}` });
    }
  }
  return outcome;
}

/** Attempts at a download whose bytes arrive cut short (the transport itself retries separately). */
const INCOMPLETE_ATTEMPTS = 3;

async function fetchMedia(client: CivitaiClient, url: string, layout: SidecarLayout, index: number, infix: string) {
  for (let attempt = 1; ; attempt += 1) {
    const { bytes, contentType } = await client.download(url);
    const sniffed = sniffMediaType(bytes, contentType);
    if (!sniffed) throw new Error(`not an image or video (${contentType || 'no content type'})`);
    if (!isCompleteMedia(bytes, sniffed.ext)) {
      if (attempt < INCOMPLETE_ATTEMPTS) continue;
      throw new Error(`the download arrived incomplete ${INCOMPLETE_ATTEMPTS} times`);
    }
    const target = path.join(layout.imagesDir, layout.previewName(index, `${infix}${sniffed.ext}`));
    await writeFileAtomic(target, bytes);
    return { path: target, kind: sniffed.kind };
  }
}

function describe(image: VersionImage): Omit<LocalImage, 'path'> {
  const meta = image.meta && typeof image.meta === 'object' ? unwrapMeta(image.meta) : undefined;
  return {
    url: image.url,
    type: image.type === 'video' ? 'video' : 'image',
    nsfwLevel: imageNsfwLevel(image),
    ...(typeof image.width === 'number' ? { width: image.width } : {}),
    ...(typeof image.height === 'number' ? { height: image.height } : {}),
    ...(image.hash ? { blurhash: image.hash } : {}),
    ...(meta ? { meta } : {}),
  };
}

/** `/images?modelId=` wraps the parameters as `{ id, meta: {...} }`; unwrap that. */
function unwrapMeta(meta: Record<string, unknown>): Record<string, unknown> {
  const inner = meta.meta;
  if (inner && typeof inner === 'object' && !Array.isArray(inner) && Object.keys(meta).every((key) => key === 'id' || key === 'meta')) {
    return inner as Record<string, unknown>;
  }
  return meta;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

