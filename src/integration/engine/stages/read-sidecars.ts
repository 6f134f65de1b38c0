import type { ModelVersion } from '../civitai/schemas.ts';
import { HASH_TYPES, type Hashes } from '../records/schema.ts';
import type { RunContext, WorkItem } from '../run.ts';
import type { DiscoveredFile } from '../scan/discover.ts';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { OPEN_FILES_LIMIT } from '../scan/safetensors.ts';
import { readSidecarWithStat, storedFromSection, type SidecarRead, type StoredSidecar } from '../sidecars/metadata.ts';
import type { SidecarStamp } from '../state/index.ts';
import { mapLimit } from '../util/map-limit.ts';
import { resolveSidecarLayout } from '../sidecars/paths.ts';

/**
 * What earlier runs (ours or the seed's) left beside each file; their hashes save a read.
 *
 * A sidecar of ours whose model file and own stat (size, mtime, ctime, inode) are what the state
 * store stamped when we last wrote or read it is not read at all: its section comes from the
 * store (one `stat` instead of stat + read + parse + validation). Everything else is read, at
 * most OPEN_FILES_LIMIT at once, and stamped for the next run. Bodies are not kept: `raw` holds
 * only the A1111 keys (`partial`), the writer reads the file again when it merges into it.
 */
export async function readSidecars(ctx: RunContext): Promise<void> {
  const { job, state } = ctx;
  const items: WorkItem[] = new Array(ctx.files.length);
  const stamps: { path: string; stamp: Omit<SidecarStamp, 'at'> }[] = [];
  await mapLimit([...ctx.files.keys()], OPEN_FILES_LIMIT, async (index) => {
    const file = ctx.files[index] as DiscoveredFile;
    const layout = resolveSidecarLayout(file, job.output);
    const sidecar = await readOne(ctx, file, layout.metadataPath, stamps);
    const item: WorkItem = { file, layout, sidecar, images: [], problems: [], fresh: false };
    if (sidecar.kind === 'foreign' || sidecar.kind === 'unreadable') {
      item.problems.push({
        stage: 'sidecars',
        message: `${layout.metadataPath} is not ours (${sidecar.reason}); it is left untouched. Set output.metadata.filename (e.g. "{model_name}.civitai.json") to keep our metadata elsewhere.`,
      });
    }
    if (sidecar.kind === 'own' && sameFile(sidecar.stored, file, job.verify_hashes)) {
      item.stored = sidecar.stored;
      item.hashes = sidecar.stored.hashes;
      // Incomplete (a preview or the parent model failed): completed by a later run, but only
      // once its back-off is due (state/retries.ts). Until then it is taken as it is, so it is
      // neither looked up, nor downloaded, nor rewritten; `item.sidecar` still says incomplete.
      if (sidecar.stored.incomplete && !ctx.forceRefresh && state?.retries.waiting(layout.metadataPath)) {
        const { incomplete: _incomplete, ...rest } = sidecar.stored;
        void _incomplete;
        item.stored = rest;
      }
    }
    if (sidecar.kind === 'seed' && job.use_cached_metadata) {
      // The Python tool's sidecar: the version body. Its file entry gives the hashes when the size matches.
      item.stored = storedFromSeed(sidecar.version, file);
      item.hashes = item.stored?.hashes;
    }
    items[index] = item;
  });
  ctx.candidates.push(...items);
  if (state && stamps.length > 0) {
    try {
      state.transaction(() => {
        for (const { path: sidecarPath, stamp } of stamps) state.sidecars.remember(sidecarPath, stamp);
      });
    } catch {
      // Only saves reads next time; the store's guard already warned.
    }
  }
}

/** The sidecar from the store's stamp when it is unchanged, else read from disk (and stamped). */
async function readOne(
  ctx: RunContext,
  file: DiscoveredFile,
  sidecarPath: string,
  stamps: { path: string; stamp: Omit<SidecarStamp, 'at'> }[],
): Promise<SidecarRead> {
  const { state } = ctx;
  const model = { dev: file.dev, ino: file.ino, size: file.size, mtimeMs: file.mtimeMs };
  if (state) {
    const now = await stat(sidecarPath).catch(() => undefined);
    if (now?.isFile()) {
      const sidecarStat = { size: now.size, mtimeMs: now.mtimeMs, ctimeMs: now.ctimeMs, ino: now.ino };
      const stamp = state.sidecars.lookup(sidecarPath, model, sidecarStat);
      if (stamp) return { kind: 'own', stored: storedFromSection(stamp.section, path.dirname(sidecarPath)), raw: stamp.top, partial: true };
    }
  }
  const { read, stat: sidecarStat, section } = await readSidecarWithStat(sidecarPath, { keepRaw: false });
  if (read.kind === 'own' && section && sidecarStat) stamps.push({ path: sidecarPath, stamp: { model, sidecar: sidecarStat, section, top: read.raw } });
  return read;
}

/** An earlier sidecar still describes this file when size and mtime are unchanged. */
function sameFile(stored: StoredSidecar, file: DiscoveredFile, strict: boolean): boolean {
  if (stored.file.size !== file.size || !stored.hashes.SHA256) return false;
  return strict ? stored.file.mtimeMs === file.mtimeMs : true;
}

/** A seed sidecar as stored data: its matching file entry's hashes, trusted when the size agrees. */
function storedFromSeed(version: ModelVersion, file: DiscoveredFile): StoredSidecar | undefined {
  const files = version.files ?? [];
  const match = files.find((candidate) => candidate.name === file.name) ?? files.find((candidate) => candidate.primary);
  const hashes = match?.hashes ?? {};
  const sizeAgrees = typeof match?.sizeKB === 'number' && Math.abs(match.sizeKB * 1024 - file.size) < 1024;
  if (!hashes.SHA256 || !sizeAgrees) return undefined;
  const known: Hashes = {};
  for (const type of HASH_TYPES) if (hashes[type]) known[type] = hashes[type].toUpperCase();
  return { version, hashes: known, images: [], file: { name: file.name, size: file.size, mtimeMs: file.mtimeMs } };
}
