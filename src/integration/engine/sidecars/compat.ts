/**
 * Files other tools read, beside our own sidecar: Civitai Helper's `.civitai.info` (read by
 * ComfyUI-Lora-Manager, SwarmUI and many ComfyUI nodes) and the `.preview.<ext>` thumbnail that
 * A1111/Forge, SwarmUI and ComfyUI loaders show.
 */
import { link, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ModelVersion } from '../civitai/schemas.ts';
import type { ModelRecord } from '../records/schema.ts';
import { linkTempPath, toJsonText, writeFileAtomic, type WriteOutcome } from '../util/atomic-write.ts';

/**
 * The by-hash version body, as Civitai Helper saves it, plus what its successor adds from the
 * parent model (creator, tags, model description): readers take what they know.
 */
export function civitaiInfo(record: ModelRecord, version: ModelVersion): Record<string, unknown> {
  const model = record.model;
  return {
    ...version,
    model: {
      ...(version.model ?? {}),
      ...(model?.description ? { description: model.description } : {}),
      ...(model?.tags ? { tags: model.tags.map((tag) => (typeof tag === 'string' ? tag : tag.name)) } : {}),
    },
    ...(model?.creator ? { creator: model.creator } : {}),
  };
}

export async function writeCivitaiInfo(file: string, document: Record<string, unknown>): Promise<WriteOutcome> {
  return writeFileAtomic(file, toJsonText(document));
}

/** The image the WebUI preview is made from: the first still image (a video's still frame). */
export function webuiPreviewSource(record: ModelRecord): string | undefined {
  return record.images.map((image) => (image.type === 'video' ? image.still : image.path)).find(Boolean);
}

/**
 * `{model_name}.preview.<ext>` from the first still image: a hard link where the file system
 * allows (no extra bytes), else a copy. A preview the user put there (different bytes, not
 * ours) is left alone; an empty file (0 bytes) holds nothing and is replaced.
 */
export async function writeWebuiPreview(
  record: ModelRecord,
  previewPath: (ext: string) => string,
  /** The preview path an earlier run wrote, if any: only that file may be replaced. */
  ownedBefore: string | undefined,
): Promise<{ path?: string; outcome: WriteOutcome | 'kept-user-file' | 'no-image' | 'source-missing' }> {
  const first = webuiPreviewSource(record);
  if (!first) return { outcome: 'no-image' };
  const target = previewPath(path.extname(first));
  const bytes = await readFile(first).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  // The downloaded preview is gone (its download failed this time): the next run gets it again.
  if (!bytes || bytes.length === 0) return { outcome: 'source-missing' };
  const current = await readFile(target).catch(() => undefined);
  if (current?.equals(bytes)) return { path: target, outcome: 'unchanged' };
  if (current && current.length > 0 && ownedBefore !== target) return { outcome: 'kept-user-file' };
  const temporary = linkTempPath(target);
  try {
    await rm(temporary, { force: true });
    await link(first, temporary);
    await rename(temporary, target);
  } catch {
    await rm(temporary, { force: true });
    await writeFileAtomic(target, bytes, { skipIfUnchanged: false });
  }
  return { path: target, outcome: 'written' };
}
