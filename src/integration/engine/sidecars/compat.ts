/**
 * Files other tools read, beside our own sidecar: Civitai Helper's `.civitai.info` (read by
 * ComfyUI-Lora-Manager, SwarmUI and many ComfyUI nodes) and the `.preview.<ext>` thumbnail that
 * A1111/Forge, SwarmUI and ComfyUI loaders show.
 */
import { link, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ModelVersion } from '../civitai/schemas.ts';
import type { ModelRecord } from '../records/schema.ts';
import { quickStat } from '../scan/stat-many.ts';
import { linkTempPath, toJsonText, writeFileAtomic, type WriteOutcome } from '../util/atomic-write.ts';
import { userText, userWeight, type SidecarUserValues } from './a1111.ts';

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
  // A loop, not map + find: asked twice per model on every run, an array each time.
  for (const image of record.images) {
    const file = image.type === 'video' ? image.still : image.path;
    if (file) return file;
  }
  return undefined;
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
  // Sizes first: a first run links thousands of previews where nothing is yet, and neither
  // file needs reading for that.
  const source = await quickStat(first);
  if (!source?.isFile()) {
    // Not there, not stat'able, or not a file: reading it says which (a missing file is no error).
    await readFile(first).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
  // The downloaded preview is gone (its download failed this time): the next run gets it again.
  if (!source?.isFile() || source.size === 0) return { outcome: 'source-missing' };
  const present = await quickStat(target);
  const currentSize = present?.isFile() ? present.size : 0;
  if (currentSize === source.size) {
    const [current, bytes] = await Promise.all([readFile(target).catch(() => undefined), readFile(first).catch(() => undefined)]);
    if (current && bytes?.equals(current)) return { path: target, outcome: 'unchanged' };
  }
  if (currentSize > 0 && ownedBefore !== target) return { outcome: 'kept-user-file' };
  const temporary = linkTempPath(target);
  try {
    await linkOver(first, temporary);
    await rename(temporary, target);
  } catch {
    await rm(temporary, { force: true });
    await writeFileAtomic(target, await readFile(first), { skipIfUnchanged: false });
  }
  return { path: target, outcome: 'written' };
}

/** A hard link at `temporary`, replacing one a crashed process of the same pid left there. */
async function linkOver(source: string, temporary: string): Promise<void> {
  try {
    await link(source, temporary);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    await rm(temporary, { force: true });
    await link(source, temporary);
  }
}

/** ComfyUI-Lora-Manager's `metadata_source` for our source names. */
const LM_SOURCES: Record<string, string> = { civitai: 'civitai_api', civitai_red: 'civitai_api', civarchive: 'civarchive', archive_db: 'archive_db' };

/**
 * ComfyUI-Lora-Manager's `{model_name}.metadata.json`, merged into what is there: every key we
 * do not set survives (LM's own flags such as `favorite`, `notes`, `usage_tips`, `exclude`, and
 * `civitai.customImages`), and keys LM treats as the user's (`model_name`, `modified`, `size`)
 * are only filled when missing.
 */
export function loraManagerMetadata(record: ModelRecord, existing: Record<string, unknown> = {}): Record<string, unknown> {
  const version = record.version;
  const model = record.model;
  const first = record.images[0];
  const oldCivitai = existing.civitai && typeof existing.civitai === 'object' && !Array.isArray(existing.civitai) ? (existing.civitai as Record<string, unknown>) : {};
  const tags = (model?.tags ?? []).map((tag) => (typeof tag === 'string' ? tag : tag.name));
  const civitai = version
    ? {
        ...oldCivitai,
        ...version,
        model: {
          ...(version.model ?? {}),
          ...(model?.name !== undefined ? { name: model.name } : {}),
          ...(model?.type !== undefined ? { type: model.type } : {}),
          ...(model?.description ? { description: model.description } : {}),
          tags,
          ...(model?.allowNoCredit !== undefined ? { allowNoCredit: model.allowNoCredit } : {}),
          ...(model?.allowCommercialUse !== undefined ? { allowCommercialUse: model.allowCommercialUse } : {}),
          ...(model?.allowDerivatives !== undefined ? { allowDerivatives: model.allowDerivatives } : {}),
          ...(model?.allowDifferentLicense !== undefined ? { allowDifferentLicense: model.allowDifferentLicense } : {}),
        },
        ...(model?.creator ? { creator: model.creator } : {}),
      }
    : oldCivitai;
  return {
    ...existing,
    file_name: record.file.stem,
    model_name: existing.model_name ?? model?.name ?? record.file.stem,
    file_path: record.file.path.split(path.sep).join('/'),
    size: existing.size ?? record.file.size,
    modified: existing.modified ?? record.file.mtimeMs / 1000,
    sha256: (record.hashes.SHA256 ?? '').toLowerCase(),
    base_model: version?.baseModel ?? existing.base_model ?? '',
    ...(first ? { preview_url: first.path.split(path.sep).join('/'), preview_nsfw_level: first.nsfwLevel } : {}),
    from_civitai: Boolean(version),
    civitai,
    ...(tags.length > 0 ? { tags: [...new Set([...(Array.isArray(existing.tags) ? (existing.tags as string[]) : []), ...tags])] } : {}),
    ...(model?.description ? { modelDescription: model.description } : {}),
    civitai_deleted: record.civitai.removedFromCivitai === true,
    metadata_source: record.civitai.source ? (LM_SOURCES[record.civitai.source] ?? null) : (existing.metadata_source ?? (version ? 'civitai_api' : null)),
    ...(record.civitai.checkedAt ? { last_checked_at: Date.parse(record.civitai.checkedAt) / 1000 } : {}),
    hash_status: 'completed',
  };
}

export function loraManagerPath(compatDir: string, stem: string): string {
  return path.join(compatDir, `${stem}.metadata.json`);
}

/** Reads the existing `.metadata.json` (undefined when missing; `false` when it is not a JSON object: left alone). */
export async function readLoraManagerMetadata(file: string): Promise<Record<string, unknown> | undefined | false> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return false;
  }
  if (text.trim() === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : false;
  } catch {
    return false;
  }
}

export async function writeLoraManagerMetadata(file: string, document: Record<string, unknown>): Promise<WriteOutcome> {
  return writeFileAtomic(file, toJsonText(document));
}

/**
 * The user's values of a ComfyUI-Lora-Manager document: `notes`, and the `strength` inside
 * `usage_tips` (a JSON text, e.g. `{"strength": 0.8, "clip_skip": 2}`; an object is taken too).
 */
export function loraManagerUserValues(document: Record<string, unknown>): SidecarUserValues {
  const values: SidecarUserValues = {};
  const notes = userText(document.notes);
  if (notes) values.notes = notes;
  let tips: unknown = document.usage_tips;
  if (typeof tips === 'string') {
    try {
      tips = JSON.parse(tips);
    } catch {
      tips = undefined;
    }
  }
  if (tips && typeof tips === 'object' && !Array.isArray(tips)) {
    const weight = userWeight((tips as Record<string, unknown>).strength);
    if (weight !== undefined) values.weight = weight;
  }
  return values;
}
