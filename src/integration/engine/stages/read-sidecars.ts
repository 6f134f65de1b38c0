import { Stats } from 'node:fs';
import path from 'node:path';
import type { ModelVersion } from '../civitai/schemas.ts';
import type { Identification } from '../enrich/identify.ts';
import { copyLazy, shallowCopy } from '../records/lazy.ts';
import { HASH_TYPES, type Hashes } from '../records/schema.ts';
import type { RunContext, WorkItem } from '../run.ts';
import type { DiscoveredFile } from '../scan/discover.ts';
import { OPEN_FILES_LIMIT } from '../scan/safetensors.ts';
import { createStatter, statEach, type StatOutcome } from '../scan/stat-many.ts';
import { readOwnSectionSync, readSidecarWithStat, storedFromSection, type SidecarRead, type StoredSidecar } from '../sidecars/metadata.ts';
import { resolveSidecarLayout, type SidecarLayout } from '../sidecars/paths.ts';
import type { BodyField, FileIdentity, SidecarStamp, SidecarStat, StateStore } from '../state/index.ts';
import { mapLimit } from '../util/map-limit.ts';

/**
 * What earlier runs (ours or the seed's) left beside each file; their hashes save a read.
 *
 * A sidecar of ours whose model file and own stat (size, mtime, ctime, inode) are what the state
 * store stamped when we last wrote or read it is not read at all: its section comes from the
 * store (one `stat` instead of stat + read + parse + validation), its API bodies unparsed
 * (records/lazy.ts). Everything else is read, at most OPEN_FILES_LIMIT at once, and stamped for
 * the next run. Bodies are not kept: `raw` holds only the A1111 keys, or nothing for a stamped
 * sidecar (`partial`); the writer reads the file again when it merges into it.
 */
export async function readSidecars(ctx: RunContext): Promise<void> {
  const { job, state } = ctx;
  const layouts = ctx.files.map((file) => resolveSidecarLayout(file, job.output));
  const items: WorkItem[] = new Array(ctx.files.length);
  const stamps = stampBatch(state);
  // With a store, every sidecar is stat'ed first (in one batch: stat-many.ts) and compared
  // with its stamp; only what the store cannot answer for is read.
  const toRead: number[] = [];
  if (state) {
    // Of each Stats only what a stamp compares (it dies young); undefined: nothing there; null:
    // something to read (not a file, or no stat: the read says why).
    const stats = await statEach(layouts.map((layout) => layout.metadataPath), sidecarStatOf);
    const wanted: { path: string; model: FileIdentity; sidecar: SidecarStat; index: number }[] = [];
    for (const [index, file] of ctx.files.entries()) {
      const now = stats[index];
      if (!now) continue;
      // The file is its own identity (no copy per file).
      wanted.push({ path: (layouts[index] as SidecarLayout).metadataPath, model: file, sidecar: now, index });
    }
    // A body the store lost (another run dropped it, a failing disk) comes from the sidecar
    // itself. Each stamp becomes its item as it is found (lookupMany's `each`).
    const unasked: string[] = [];
    state.sidecars.lookupMany(wanted, sidecarBody, unasked, ({ index, path: sidecarPath }, stamp) => {
      const item = toItem(ctx, ctx.files[index] as DiscoveredFile, layouts[index] as SidecarLayout, fromStamp(stamp, sidecarPath));
      if (stamp.training !== undefined) item.training = stamp.training;
      else item.stampWithoutTraining = true;
      items[index] = item;
    });
    await forgetGone(state, unasked);
    for (const [index, file] of ctx.files.entries()) {
      if (items[index] !== undefined) continue;
      // Nothing there (a first run): nothing to read either.
      if (stats[index] === undefined) items[index] = toItem(ctx, file, layouts[index] as SidecarLayout, { kind: 'missing' });
      else toRead.push(index);
    }
  } else {
    toRead.push(...ctx.files.keys());
  }
  await mapLimit(toRead, OPEN_FILES_LIMIT, async (index) => {
    const file = ctx.files[index] as DiscoveredFile;
    const layout = layouts[index] as SidecarLayout;
    const model = { dev: file.dev, ino: file.ino, size: file.size, mtimeMs: file.mtimeMs };
    const { read, stat: sidecarStat, section } = await readSidecarWithStat(layout.metadataPath, { keepRaw: false });
    const item = toItem(ctx, file, layout, read);
    if (read.kind === 'own' && section && sidecarStat && state) {
      stamps.add(layout.metadataPath, { model, sidecar: sidecarStat, section, top: read.raw });
      item.stampWithoutTraining = true;
    }
    items[index] = item;
  });
  stamps.flush();
  ctx.candidates.push(...items);
}

function sidecarStatOf(outcome: StatOutcome): SidecarStat | null | undefined {
  if (outcome === undefined) return undefined;
  if (!(outcome instanceof Stats) || !outcome.isFile()) return null;
  return { size: outcome.size, mtimeMs: outcome.mtimeMs, ctimeMs: outcome.ctimeMs, ino: outcome.ino };
}

/**
 * Stamps (and back-offs) of sidecars that are not there any more: organize moved them with their
 * models, or they were deleted. Such a stamp can never hold again; kept, they would make every
 * later run read more rows, and eventually make it look sidecars up one by one. A sidecar that
 * is still there (another job's, a file this run's patterns leave out) keeps its stamp.
 */
async function forgetGone(state: StateStore, paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return;
  const outcomes = await createStatter()(paths);
  const gone = paths.filter((_, index) => outcomes[index] === undefined);
  if (gone.length === 0) return;
  try {
    state.transaction(() => {
      for (const sidecarPath of gone) {
        state.sidecars.forget(sidecarPath);
        state.retries.clear(sidecarPath);
      }
    });
  } catch {
    // Only saves rows read next time; the store's guard already warned.
  }
}

/** A body the state store lost, from the sidecar itself (its `version`, `model` or images' parameters). */
function sidecarBody(sidecarPath: string, field: BodyField): unknown {
  const section = readOwnSectionSync(sidecarPath);
  if (field !== 'imageMeta') return section?.[field];
  const images = section?.images;
  return Array.isArray(images) ? images.map((image) => (image as { meta?: unknown }).meta ?? null) : undefined;
}

/**
 * An item not looked up this time takes what its sidecar stored, its version and parent model
 * left unparsed when they are (records/lazy.ts).
 */
export function reuseStored(item: WorkItem, flags: Omit<Identified, 'status' | 'version'>): void {
  const stored = item.stored as StoredSidecar;
  copyLazy(item, stored, 'version');
  copyLazy(item, stored, 'model');
  item.images = stored.images;
  item.checkedAt = stored.checkedAt;
  // Its version is the item's: a reused identification is only read for its status and flags.
  item.identification = { status: 'identified', ...flags } as Identified;
}

type Identified = Extract<Identification, { status: 'identified' }>;

/** One model file with what its sidecar says, as the later stages take it. */
function toItem(ctx: RunContext, file: DiscoveredFile, layout: SidecarLayout, sidecar: SidecarRead): WorkItem {
  const { job, state } = ctx;
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
      const rest = shallowCopy(sidecar.stored);
      delete rest.incomplete;
      item.stored = rest;
    }
  }
  if (sidecar.kind === 'seed' && job.use_cached_metadata) {
    // The Python tool's sidecar: the version body. Its file entry gives the hashes when the size matches.
    item.stored = storedFromSeed(sidecar.version, file);
    item.hashes = item.stored?.hashes;
  }
  return item;
}

/** Our sidecar as its stamp in the state store has it (the file is as stamped: not read). */
function fromStamp(stamp: SidecarStamp, sidecarPath: string): SidecarRead {
  const stored = storedFromSection(stamp.section, path.dirname(sidecarPath), stamp.bodies);
  return { kind: 'own', stored, raw: NO_RAW, partial: true, ...(stamp.a1111 ? { a1111: stamp.a1111 } : {}) };
}

/** A stamped sidecar's `raw`: none was read (only ever read or copied, so one for all). */
const NO_RAW: Record<string, unknown> = Object.freeze({});

/** Stamps of the sidecars read in this run, written to the store a few hundred at a time. */
function stampBatch(state: StateStore | undefined) {
  const pending: { path: string; stamp: Omit<SidecarStamp, 'at'> }[] = [];
  const flush = () => {
    if (!state || pending.length === 0) return;
    const batch = pending.splice(0);
    try {
      state.transaction(() => {
        for (const { path: sidecarPath, stamp } of batch) state.sidecars.remember(sidecarPath, stamp);
      });
    } catch {
      // Only saves reads next time; the store's guard already warned.
    }
  };
  return {
    add(sidecarPath: string, stamp: Omit<SidecarStamp, 'at'>) {
      pending.push({ path: sidecarPath, stamp });
      // The sections held here are whole (bodies parsed): a first run over 50,000 old sidecars
      // must not keep them all until the end.
      if (pending.length >= STAMP_BATCH) flush();
    },
    flush,
  };
}

const STAMP_BATCH = 256;

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
