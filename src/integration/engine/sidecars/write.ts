import type { ModelVersion } from '../civitai/schemas.ts';
import type { CompatOutputConfig } from '../config/schema.ts';
import { messageOf } from '../enrich/identify.ts';
import type { ModelRecord } from '../records/schema.ts';
import { toJsonText, writeFileAtomic, type WriteOutcome } from '../util/atomic-write.ts';
import { a1111Metadata, mergeA1111, type A1111Metadata } from './a1111.ts';
import { civitaiInfo, writeCivitaiInfo, writeWebuiPreview } from './compat.ts';
import { buildSidecar, readSidecar, writeSidecar, type SidecarRead } from './metadata.ts';
import type { SidecarLayout } from './paths.ts';

export interface SidecarWriteResult {
  written: number;
  unchanged: number;
  problems: { stage: string; message: string }[];
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
  const { record, version, layout, existing, compat } = options;
  const result: SidecarWriteResult = { written: 0, unchanged: 0, problems: [] };
  const count = (outcome: WriteOutcome) => {
    if (outcome === 'written') result.written += 1;
    else result.unchanged += 1;
  };
  const attempt = async (what: string, write: () => Promise<void>) => {
    try {
      await write();
    } catch (error) {
      result.problems.push({ stage: 'sidecars', message: `could not write ${what}: ${messageOf(error)}` });
    }
  };
  const stored = existing.kind === 'own' ? existing.stored : undefined;

  let webuiPreview: string | undefined;
  if (compat.webui_preview) {
    await attempt('the WebUI preview', async () => {
      const preview = await writeWebuiPreview(record, layout.webuiPreviewPath, stored?.webuiPreview);
      if (preview.outcome === 'written' || preview.outcome === 'unchanged') count(preview.outcome);
      if (preview.outcome === 'kept-user-file') {
        result.problems.push({ stage: 'sidecars', message: `kept your own ${record.file.stem}.preview image (not replaced)` });
      }
      webuiPreview = preview.path ?? stored?.webuiPreview;
    });
  }

  const a1111Values = compat.a1111_user_metadata ? a1111Metadata(record, version) : undefined;
  const combined = a1111Values !== undefined && layout.a1111Path === layout.metadataPath;
  let a1111Written: A1111Metadata | undefined;
  if (a1111Values && !combined) {
    await attempt(layout.a1111Path, async () => {
      const target = await readSidecar(layout.a1111Path);
      if (target.kind !== 'missing' && target.kind !== 'a1111') {
        result.problems.push({ stage: 'sidecars', message: `${layout.a1111Path} is not an A1111 user-metadata file; left untouched` });
        return;
      }
      const { document, written } = mergeA1111(target.kind === 'a1111' ? target.raw : {}, a1111Values, stored?.a1111);
      a1111Written = written;
      count(await writeFileAtomic(layout.a1111Path, toJsonText(document)));
    });
  }

  if (compat.civitai_info) {
    await attempt(layout.civitaiInfoPath, async () => count(await writeCivitaiInfo(layout.civitaiInfoPath, civitaiInfo(record, version))));
  }

  // Our sidecar last: it tells the next run that this file is done, so a run killed before it
  // leaves the companion files to be written again rather than missing for good.
  await attempt(layout.metadataPath, async () => {
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
    count(await writeSidecar(layout.metadataPath, document));
  });

  return result;
}
