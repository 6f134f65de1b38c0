import type { ModelVersion } from '../civitai/schemas.ts';
import { HASH_TYPES, type Hashes } from '../records/schema.ts';
import type { RunContext, WorkItem } from '../run.ts';
import type { DiscoveredFile } from '../scan/discover.ts';
import { readSidecar, type StoredSidecar } from '../sidecars/metadata.ts';
import { resolveSidecarLayout } from '../sidecars/paths.ts';

/** What earlier runs (ours or the seed's) left beside each file; their hashes save a read. */
export async function readSidecars(ctx: RunContext): Promise<void> {
  const { job } = ctx;
  for (const file of ctx.files) {
    const layout = resolveSidecarLayout(file, job.output);
    const sidecar = await readSidecar(layout.metadataPath);
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
    }
    if (sidecar.kind === 'seed' && job.use_cached_metadata) {
      // The Python tool's sidecar: the version body. Its file entry gives the hashes when the size matches.
      item.stored = storedFromSeed(sidecar.version, file);
      item.hashes = item.stored?.hashes;
    }
    ctx.candidates.push(item);
  }
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
