import path from 'node:path';
import type { ModelVersion } from '../civitai/schemas.ts';
import type { CompatOutputConfig } from '../config/schema.ts';
import { messageOf } from '../enrich/identify.ts';
import type { ModelRecord } from '../records/schema.ts';
import { toJsonText, writeFailureCode, writeFileAtomic, type WriteOutcome } from '../util/atomic-write.ts';
import { a1111Metadata, mergeA1111, type A1111Metadata } from './a1111.ts';
import { civitaiInfo, webuiPreviewSource, writeCivitaiInfo, writeWebuiPreview } from './compat.ts';
import { a1111Top, buildSidecar, builtSection, readSidecar, writeSidecar, type SidecarRead } from './metadata.ts';
import type { SidecarLayout } from './paths.ts';

export interface SidecarWriteResult {
  written: number;
  unchanged: number;
  /** The files written (not the unchanged ones). */
  writtenPaths: string[];
  /** Problems that did not stop the model (a file of somebody else's left alone). */
  problems: { stage: string; message: string }[];
  /** Files that could not be written: the model is not done, the run must fail. */
  failures: SidecarWriteFailure[];
  /**
   * The metadata sidecar as it now is on disk (written or unchanged): our validated section and
   * the top-level A1111 values, for the state store's stamp (sidecar-stamps.ts).
   */
  metadata?: { section: Record<string, unknown>; top: Record<string, unknown> };
}

export interface SidecarWriteFailure {
  path: string;
  /** `EACCES`, `ENOSPC`, …, when the error had one. */
  code?: string;
  message: string;
}

/**
 * Everything written beside (or for) one identified model: the metadata sidecar and the
 * enabled compat files. Each write is atomic and skipped when the bytes are the same; a file
 * that belongs to somebody else is reported, not replaced.
 */
export async function writeModelSidecars(options: {
  record: ModelRecord;
  version: ModelVersion;
  layout: SidecarLayout;
  existing: SidecarRead;
  compat: CompatOutputConfig;
  /** Enrichment or previews failed this time (remembered so the next run completes them). */
  incomplete?: boolean;
}): Promise<SidecarWriteResult> {
  const { record, version, layout, compat } = options;
  let existing = options.existing;
  // Only the A1111 keys of our sidecar were kept: merge into the whole document as it is now.
  if (existing.kind === 'own' && existing.partial) existing = await readSidecar(layout.metadataPath);
  const result: SidecarWriteResult = { written: 0, unchanged: 0, writtenPaths: [], problems: [], failures: [] };
  const count = (file: string, outcome: WriteOutcome) => {
    if (outcome === 'written') {
      result.written += 1;
      result.writtenPaths.push(file);
    } else result.unchanged += 1;
  };
  const attempt = async (file: string, write: () => Promise<void>) => {
    try {
      await write();
    } catch (error) {
      const code = writeFailureCode(error);
      result.failures.push({ path: file, ...(code ? { code } : {}), message: messageOf(error) });
    }
  };
  const stored = existing.kind === 'own' ? existing.stored : undefined;

  // What an earlier run owned stays owned when this run cannot write it.
  let webuiPreview: string | undefined = compat.webui_preview ? stored?.webuiPreview : undefined;
  const previewSource = webuiPreviewSource(record);
  if (compat.webui_preview && previewSource) {
    await attempt(layout.webuiPreviewPath(path.extname(previewSource)), async () => {
      const preview = await writeWebuiPreview(record, (ext) => layout.webuiPreviewPath(ext), stored?.webuiPreview);
      if ((preview.outcome === 'written' || preview.outcome === 'unchanged') && preview.path) count(preview.path, preview.outcome);
      if (preview.outcome === 'kept-user-file') {
        result.problems.push({ stage: 'sidecars', message: `kept your own ${record.file.stem}.preview image (not replaced)` });
      }
      if (preview.outcome === 'source-missing') {
        result.problems.push({ stage: 'sidecars', message: `no WebUI preview: ${previewSource} is missing (the next run downloads it again)` });
      }
      webuiPreview = preview.path ?? stored?.webuiPreview;
    });
  }

  const a1111Values = compat.a1111_user_metadata ? a1111Metadata(record, version) : undefined;
  const combined = a1111Values !== undefined && layout.a1111Path === layout.metadataPath;
  let a1111Written: A1111Metadata | undefined;
  if (a1111Values && !combined) {
    // Still ours if this run cannot write the file.
    a1111Written = stored?.a1111;
    await attempt(layout.a1111Path, async () => {
      const target = await readSidecar(layout.a1111Path);
      if (target.kind !== 'missing' && target.kind !== 'a1111') {
        a1111Written = undefined;
        result.problems.push({ stage: 'sidecars', message: `${layout.a1111Path} is not an A1111 user-metadata file; left untouched` });
        return;
      }
      const { document, written } = mergeA1111(target.kind === 'a1111' ? target.raw : {}, a1111Values, stored?.a1111);
      count(layout.a1111Path, await writeFileAtomic(layout.a1111Path, toJsonText(document)));
      a1111Written = written;
    });
  }

  if (compat.civitai_info) {
    await attempt(layout.civitaiInfoPath, async () => count(layout.civitaiInfoPath, await writeCivitaiInfo(layout.civitaiInfoPath, civitaiInfo(record, version))));
  }

  // Our sidecar last: it tells the next run that this file is done, so a run killed before it
  // leaves the companion files to be written again rather than missing for good.
  await attempt(layout.metadataPath, async () => {
    if (existing.kind === 'foreign' || existing.kind === 'unreadable') {
      result.problems.push({ stage: 'sidecars', message: `${layout.metadataPath} changed during the run and is not ours now (${existing.reason}); left untouched` });
      return;
    }
    const document = buildSidecar(
      {
        record,
        version,
        sidecarPath: layout.metadataPath,
        ...(combined ? { a1111: { values: a1111Values, lastWritten: stored?.a1111 } } : {}),
        ...(a1111Written ? { a1111Written } : {}),
        ...(webuiPreview ? { webuiPreview } : {}),
        ...(options.incomplete ? { incomplete: true } : {}),
      },
      existing,
    );
    count(layout.metadataPath, await writeSidecar(layout.metadataPath, document, existing));
    const section = builtSection(document.civitscraper);
    if (section) result.metadata = { section, top: a1111Top(document) };
  });

  return result;
}
