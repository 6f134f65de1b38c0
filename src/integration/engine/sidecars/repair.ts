/**
 * Files an earlier run wrote (or should have) that are missing or empty now: deleted by hand,
 * left at 0 bytes by a copy that died or a full disk, or never written because that write
 * failed. A normal run (no --force-refresh) writes them again; nothing else is touched.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CompatOutputConfig } from '../config/schema.ts';
import type { LocalImage, ModelRecord } from '../records/schema.ts';
import { webuiPreviewSource } from './compat.ts';
import { isEmptyValue, readSidecar, type SidecarRead } from './metadata.ts';
import type { SidecarLayout } from './paths.ts';

export type RepairKind = 'metadata sidecar' | '.civitai.info' | 'WebUI preview' | 'A1111 keys';

export interface MissingFile {
  path: string;
  kind: RepairKind;
}

/** Image extensions the WebUIs look for beside a model (`{model_name}.preview.<ext>`). */
const WEBUI_PREVIEW_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.avif'];

/**
 * What of ours is missing or empty for one identified model. Only when an earlier run of ours
 * finished it (its metadata sidecar is ours), or when that sidecar itself is empty: a model
 * seen for the first time is written, not repaired.
 */
export async function findMissingFiles(options: {
  record: ModelRecord;
  layout: SidecarLayout;
  existing: SidecarRead;
  compat: CompatOutputConfig;
  a1111Enabled: boolean;
  /** Answers hasContent, e.g. from one batch of stats (`probeOf`). */
  probe?: ContentProbe;
}): Promise<MissingFile[]> {
  const { record, layout, existing, compat } = options;
  const probe = options.probe ?? hasContent;
  const emptySidecar = existing.kind === 'missing' && existing.empty === true;
  if (existing.kind !== 'own' && !emptySidecar) return [];
  const stored = existing.kind === 'own' ? existing.stored : undefined;
  const missing: MissingFile[] = [];
  if (emptySidecar) missing.push({ path: layout.metadataPath, kind: 'metadata sidecar' });

  if (compat.civitai_info && !(await probe(layout.civitaiInfoPath))) missing.push({ path: layout.civitaiInfoPath, kind: '.civitai.info' });

  const source = compat.webui_preview ? webuiPreviewSource(record) : undefined;
  if (source) {
    const target = layout.webuiPreviewPath(path.extname(source));
    const owned = stored?.webuiPreview;
    const present =
      (await probe(target)) ||
      // Ours under another extension, or the user's own preview: the WebUI has one.
      (owned !== undefined && owned !== target && (await probe(owned))) ||
      (owned === undefined && (await otherWebuiPreview(layout, record.file.stem, probe)));
    if (!present) missing.push({ path: target, kind: 'WebUI preview' });
  }

  if (options.a1111Enabled && !emptySidecar) {
    // A sidecar not read in this run: its stamp knows the answer for our own file.
    const facts = existing.kind === 'own' ? existing.a1111 : undefined;
    const ours = facts?.ours ?? Object.keys(stored?.a1111 ?? {});
    if (layout.a1111Path === layout.metadataPath) {
      const gaps = facts ? facts.emptyAtTop : existing.kind === 'own' && ours.some((key) => isEmptyValue(existing.raw[key]));
      if (existing.kind === 'own' && gaps) missing.push({ path: layout.a1111Path, kind: 'A1111 keys' });
    } else {
      const target = await readSidecar(layout.a1111Path);
      if (target.kind === 'missing' || (target.kind === 'a1111' && ours.some((key) => isEmptyValue(target.raw[key])))) {
        missing.push({ path: layout.a1111Path, kind: 'A1111 keys' });
      }
    }
  }
  return missing;
}

/**
 * `[]` when findMissingFiles would find nothing missing and the batch of stats already knows
 * every answer that takes; undefined when only findMissingFiles can tell. A no-change rerun
 * asks this of every model, and an async call per model (50,000) was most of its sidecar
 * stage. Conservative: anything it cannot vouch for from memory goes the long way.
 */
export function nothingMissingKnown(options: {
  record: ModelRecord;
  layout: SidecarLayout;
  existing: SidecarRead;
  compat: CompatOutputConfig;
  a1111Enabled: boolean;
  /** contentMany's answers for the paths pathsToProbe gave, this model's from `at` on. */
  content: Uint8Array;
  at: number;
}): MissingFile[] | undefined {
  const { record, layout, existing, compat, content } = options;
  if (existing.kind !== 'own') return existing.kind === 'missing' && existing.empty === true ? undefined : NOTHING_MISSING;
  let at = options.at;
  // In pathsToProbe's order: the .civitai.info, then the WebUI preview.
  if (compat.civitai_info && content[at++] !== 1) return undefined;
  if (compat.webui_preview && webuiPreviewSource(record) !== undefined && content[at] !== 1) return undefined;
  // Our keys in the metadata sidecar itself, as its stamp knows them; a file of their own is read.
  if (options.a1111Enabled && (layout.a1111Path !== layout.metadataPath || !existing.a1111 || existing.a1111.emptyAtTop)) return undefined;
  return NOTHING_MISSING;
}

const NOTHING_MISSING: MissingFile[] = Object.freeze([]) as unknown as MissingFile[];

/**
 * Adds to `into` the paths findMissingFiles stats for a model (the rest it reads), to stat them
 * in one batch: the .civitai.info, the WebUI preview, and the one an earlier run wrote when it
 * is another file (under another extension). Returns how many it added.
 */
export function pathsToProbe(record: ModelRecord, layout: SidecarLayout, existing: SidecarRead, compat: CompatOutputConfig, into: string[]): number {
  if (existing.kind !== 'own' && !(existing.kind === 'missing' && existing.empty === true)) return 0;
  const before = into.length;
  if (compat.civitai_info) into.push(layout.civitaiInfoPath);
  const source = compat.webui_preview ? webuiPreviewSource(record) : undefined;
  if (source) {
    const target = layout.webuiPreviewPath(path.extname(source));
    into.push(target);
    const owned = existing.kind === 'own' ? existing.stored.webuiPreview : undefined;
    // Usually the same file: stat'ed once.
    if (owned && owned !== target) into.push(owned);
  }
  return into.length - before;
}

/** Whether a file has content (hasContent, or answers a batch of stats already has). */
export type ContentProbe = (file: string) => Promise<boolean>;

/**
 * hasContent that answers `paths[from..to)` from contentMany's `content` (scan/stat-many.ts)
 * and stats any other path when asked: for the few models the batch alone cannot settle.
 */
export function probeOf(paths: readonly string[], content: Uint8Array, from: number, to: number): ContentProbe {
  const known = new Map<string, boolean>();
  for (let index = from; index < to; index += 1) known.set(paths[index] as string, content[index] === 1);
  return async (file) => known.get(file) ?? hasContent(file);
}

/** A downloaded preview (and a video's still frame) that is still there with content. */
export async function imageIsIntact(image: LocalImage): Promise<boolean> {
  return (await hasContent(image.path)) && (!image.still || (await hasContent(image.still)));
}

/** A regular file with at least one byte. */
export async function hasContent(file: string): Promise<boolean> {
  try {
    const info = await stat(file);
    return info.isFile() && info.size > 0;
  } catch {
    return false;
  }
}

async function otherWebuiPreview(layout: SidecarLayout, stem: string, probe: ContentProbe): Promise<boolean> {
  const folder = layout.compatDir;
  const names = await readdir(folder).catch(() => [] as string[]);
  const prefix = `${stem}.preview`;
  for (const name of names) {
    if (!name.startsWith(prefix) || !WEBUI_PREVIEW_EXTENSIONS.includes(name.slice(prefix.length).toLowerCase())) continue;
    if (await probe(path.join(folder, name))) return true;
  }
  return false;
}


/** "2 WebUI previews, 1 .civitai.info": what a stage repaired, for its summary line. */
export function describeKinds(kinds: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const kind of kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return [...counts].map(([kind, count]) => `${count} ${kind}${count > 1 && /preview|sidecar/.test(kind) ? 's' : ''}`).join(', ');
}
