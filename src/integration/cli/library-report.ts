/**
 * The library report (`civitscraper report`), from what is on disk, without asking CivitAI:
 *
 * - duplicates: the same bytes (SHA-256) in several places, and the same CivitAI version in
 *   different files (another format, a re-upload, a pruned copy);
 * - unidentified files: no CivitAI metadata (not found, not looked up yet, lookup failed);
 * - newer versions: the parent model has a newer version of the same family (base model and
 *   variant, the update radar's rules: engine/updates/), marked with its path when the library
 *   has it too, so the old one can go;
 * - changed files: the file's SHA-256 is no longer the one its sidecar was written for (the
 *   file was replaced or edited after it was identified; its metadata may be wrong);
 * - orphan sidecars: our (or the seed's) metadata file whose model file is gone.
 *
 * The records come from the engine run offline over the sidecars and the hash ledger; only files
 * whose size or mtime differ from what their sidecar recorded are read again, to confirm.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config, ScanJob } from '../engine/config/index.ts';
import type { ReportEntry } from '../engine/report.ts';
import type { ModelRecord } from '../engine/records/schema.ts';
import { MODEL_FILE_EXTENSIONS } from '../engine/scan/extensions.ts';
import { hashFile } from '../engine/scan/hash.ts';
import { readSidecar } from '../engine/sidecars/metadata.ts';
import { resolveSidecarLayout } from '../engine/sidecars/paths.ts';
import { localFileOf, modelIdOf, newerThanOwn } from '../engine/updates/rules.ts';
import type { UpdateState } from '../engine/updates/schema.ts';
import { freshestVersions } from '../engine/updates/stage.ts';
import { readUpdateState } from '../engine/updates/state.ts';
import type { Logger } from '../engine/util/logger.ts';
import { formatBytes, plural } from './format.ts';

export const LIBRARY_REPORT_FORMAT = 1;

export interface VersionRef {
  id: number;
  name: string;
  baseModel: string;
  date?: string;
  /** Where this version is in the library, if it is. */
  localPath?: string;
}

export interface LibraryReport {
  format: typeof LIBRARY_REPORT_FORMAT;
  generatedAt: string;
  jobs: string[];
  files: { total: number; identified: number; unidentified: number; unreadable: number };
  duplicates: {
    sameHash: Array<{ sha256: string; size: number; paths: string[] }>;
    sameVersion: Array<{ versionId: number; modelId?: number; model: string; version: string; files: Array<{ path: string; sha256?: string }> }>;
  };
  unidentified: Array<{ path: string; status: string; error?: string }>;
  newerVersions: Array<{ path: string; modelId: number; model: string; current: VersionRef; newer: VersionRef[] }>;
  hashMismatches: Array<{ path: string; sidecar: string; sidecarSha256: string; fileSha256: string; sizeChanged: boolean }>;
  orphanSidecars: Array<{ path: string; kind: 'own' | 'seed'; modelFile?: string; model?: string }>;
  /** Files the engine could not read (as in the run report). */
  unreadable: ReportEntry[];
}

export interface LibraryReportInput {
  config: Config;
  jobs: Array<{ name: string; job: ScanJob; records: readonly ModelRecord[]; errors: readonly ReportEntry[] }>;
  logger: Logger;
  signal?: AbortSignal;
}

export async function buildLibraryReport(input: LibraryReportInput): Promise<LibraryReport> {
  const { logger } = input;
  // One record per file, with the job whose layout finds its sidecar.
  const byPath = new Map<string, { record: ModelRecord; job: ScanJob }>();
  for (const { job, records } of input.jobs) {
    for (const record of records) if (!byPath.has(record.file.path)) byPath.set(record.file.path, { record, job });
  }
  const entries = [...byPath.values()].sort((a, b) => a.record.file.path.localeCompare(b.record.file.path));
  const records = entries.map((entry) => entry.record);
  const unreadable = dedupe(input.jobs.flatMap((job) => job.errors), (entry) => `${entry.path}\0${entry.stage}`);
  const identified = records.filter(isIdentified);
  const updateState = await readUpdateState(input.config.scanner.cache_dir, logger);

  const report: LibraryReport = {
    format: LIBRARY_REPORT_FORMAT,
    generatedAt: new Date().toISOString(),
    jobs: input.jobs.map((job) => job.name),
    files: {
      total: records.length + new Set(unreadable.map((entry) => entry.path)).size,
      identified: identified.length,
      unidentified: records.length - identified.length,
      unreadable: new Set(unreadable.map((entry) => entry.path)).size,
    },
    duplicates: { sameHash: sameHash(records), sameVersion: sameVersion(identified) },
    unidentified: records
      .filter((record) => !isIdentified(record))
      .map((record) => ({
        path: record.file.path,
        status: record.civitai.status,
        ...(record.civitai.error ? { error: record.civitai.error } : {}),
      })),
    newerVersions: newerVersions(identified, { state: updateState, ignore: new Set([...input.config.updates.ignore, ...updateState.ignore]), now: Date.now() }),
    hashMismatches: [],
    orphanSidecars: [],
    unreadable,
  };

  // Changed files: only those whose size or mtime moved since the sidecar was written are read.
  const expectedSidecars = new Set<string>();
  for (const { record, job } of entries) {
    input.signal?.throwIfAborted();
    const layout = resolveSidecarLayout(record.file, job.output);
    expectedSidecars.add(layout.metadataPath);
    const sidecar = await readSidecar(layout.metadataPath);
    if (sidecar.kind !== 'own') continue;
    const stored = sidecar.stored;
    const storedSha = stored.hashes.SHA256?.toUpperCase();
    if (!storedSha) continue;
    const sizeChanged = stored.file.size !== record.file.size;
    if (!sizeChanged && stored.file.mtimeMs === record.file.mtimeMs) continue;
    let actual = record.hashes.SHA256?.toUpperCase();
    if (actual === undefined || actual === storedSha) {
      // The engine may have taken the hash from this very sidecar: read the file to be sure.
      try {
        logger.debug(`report: ${record.file.path} changed since its sidecar was written; hashing it to compare`);
        actual = (await hashFile(record.file.path, { types: ['SHA256'], ...(input.signal ? { signal: input.signal } : {}) })).hashes.SHA256?.toUpperCase();
      } catch (error) {
        if (input.signal?.aborted) throw error;
        logger.warn(`report: cannot read ${record.file.path}: ${(error as Error).message}`);
        continue;
      }
    }
    if (actual && actual !== storedSha) {
      report.hashMismatches.push({ path: record.file.path, sidecar: layout.metadataPath, sidecarSha256: storedSha, fileSha256: actual, sizeChanged });
    }
  }

  report.orphanSidecars = await findOrphanSidecars(input, expectedSidecars);
  return report;
}

function isIdentified(record: ModelRecord): boolean {
  return record.civitai.status === 'identified' && record.version !== undefined;
}

function dedupe<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.values()];
}

function sameHash(records: readonly ModelRecord[]): LibraryReport['duplicates']['sameHash'] {
  const hashed = records.filter((record) => record.hashes.SHA256);
  const groups = Map.groupBy(hashed, (record) => (record.hashes.SHA256 as string).toUpperCase());
  return [...groups.entries()]
    .filter(([, group]) => group.length > 1)
    .map(([sha256, group]) => ({ sha256, size: group[0]?.file.size ?? 0, paths: group.map((record) => record.file.path).sort() }))
    .sort((a, b) => b.size - a.size || a.sha256.localeCompare(b.sha256));
}

function sameVersion(records: readonly ModelRecord[]): LibraryReport['duplicates']['sameVersion'] {
  const versioned = records.filter((record) => record.version?.id !== undefined);
  const groups = Map.groupBy(versioned, (record) => record.version?.id as number);
  const out: LibraryReport['duplicates']['sameVersion'] = [];
  for (const [versionId, group] of groups) {
    // Copies of the same bytes are the other kind of duplicate; this one needs different files.
    if (new Set(group.map((record) => record.hashes.SHA256?.toUpperCase() ?? record.file.path)).size < 2) continue;
    const first = group[0] as ModelRecord;
    out.push({
      versionId,
      ...(typeof first.version?.modelId === 'number' ? { modelId: first.version.modelId } : {}),
      model: modelName(first),
      version: first.version?.name ?? '',
      files: group
        .map((record) => ({ path: record.file.path, ...(record.hashes.SHA256 ? { sha256: record.hashes.SHA256.toUpperCase() } : {}) }))
        .sort((a, b) => a.path.localeCompare(b.path)),
    });
  }
  return out.sort((a, b) => a.model.localeCompare(b.model) || a.versionId - b.versionId);
}

function modelName(record: ModelRecord): string {
  return record.model?.name ?? record.version?.model?.name ?? record.file.stem;
}

/**
 * Per file, the newer versions of its family (same base model and variant, the update radar's
 * rules) published after its own version, in the library or not: an old file whose newer
 * version is here too can go. Versions that are not offered as updates (early access, paid,
 * on-site only, ignored) are left out unless the library has them.
 */
function newerVersions(records: readonly ModelRecord[], options: { state: UpdateState; ignore: ReadonlySet<number>; now: number }): LibraryReport['newerVersions'] {
  const local = new Map<number, string>();
  for (const record of records) if (record.version && !local.has(record.version.id)) local.set(record.version.id, record.file.path);
  const byModel = Map.groupBy(records.filter((record) => modelIdOf(record) !== undefined), (record) => modelIdOf(record) as number);
  const out: LibraryReport['newerVersions'] = [];
  for (const [modelId, group] of byModel) {
    const versions = freshestVersions(modelId, group, options.state) ?? [];
    for (const record of group) {
      const own = localFileOf(record);
      const version = record.version;
      if (!own || !version || versions.length === 0) continue;
      const summary = versions.find((candidate) => candidate.id === version.id);
      const baseModel = version.baseModel ?? summary?.baseModel;
      if (!baseModel) continue;
      const currentDate = version.publishedAt ?? version.createdAt ?? summary?.publishedAt ?? summary?.createdAt ?? undefined;
      const newer = newerThanOwn(own, versions, options)
        .filter(({ version: candidate, flags }) => local.has(candidate.id) || flags.length === 0)
        .map(({ version: candidate }) => {
          const date = candidate.publishedAt ?? candidate.createdAt;
          const localPath = local.get(candidate.id);
          return { id: candidate.id, name: candidate.name ?? '', baseModel: candidate.baseModel ?? baseModel, ...(date ? { date } : {}), ...(localPath ? { localPath } : {}) };
        });
      if (newer.length === 0) continue;
      out.push({
        path: record.file.path,
        modelId,
        model: modelName(record),
        current: { id: version.id, name: version.name ?? '', baseModel, ...(currentDate ? { date: currentDate } : {}) },
        newer,
      });
    }
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** `{model_name}.json` → `.json`; `{model_name}.civitai.json` → `.civitai.json`. */
function sidecarSuffix(job: ScanJob): string {
  const template = job.output.metadata.filename;
  const match = /^\{model_name\}([^{}/\\]+)$/.exec(template);
  return match?.[1] ?? '.json';
}

/** Folders where sidecars can be: the input paths, `base_dir`, a fixed metadata folder. */
function sidecarFolders(config: Config, job: ScanJob): string[] {
  const folders = (job.paths ?? Object.keys(config.input_paths))
    .map((id) => config.input_paths[id]?.path)
    .filter((folder): folder is string => folder !== undefined);
  if (job.output.base_dir) folders.push(job.output.base_dir);
  const metadataPath = job.output.metadata.path;
  if (!metadataPath.includes('{')) folders.push(metadataPath);
  return folders.map((folder) => path.resolve(folder));
}

async function findOrphanSidecars(input: LibraryReportInput, expected: ReadonlySet<string>): Promise<LibraryReport['orphanSidecars']> {
  const excluded = path.resolve(input.config.scanner.cache_dir);
  const suffixes = new Set(input.jobs.map(({ job }) => sidecarSuffix(job)));
  const roots = [...new Set(input.jobs.flatMap(({ job }) => sidecarFolders(input.config, job)))];
  const visited = new Set<string>();
  const orphans = new Map<string, LibraryReport['orphanSidecars'][number]>();

  const walk = async (folder: string): Promise<void> => {
    if (visited.has(folder) || folder === excluded) return;
    visited.add(folder);
    input.signal?.throwIfAborted();
    let dirents;
    try {
      dirents = await readdir(folder, { withFileTypes: true });
    } catch {
      return;
    }
    const names = new Set(dirents.map((dirent) => dirent.name.toLowerCase()));
    for (const dirent of dirents) {
      if (dirent.name.startsWith('.')) continue;
      const full = path.join(folder, dirent.name);
      if (dirent.isDirectory()) {
        await walk(full);
        continue;
      }
      if (!dirent.isFile() || expected.has(full)) continue;
      const suffix = [...suffixes].find((candidate) => dirent.name.toLowerCase().endsWith(candidate.toLowerCase()));
      if (!suffix) continue;
      const stem = dirent.name.slice(0, dirent.name.length - suffix.length);
      if (!stem || /\.(?:metadata|cm-info|civitai)$/i.test(stem)) continue;
      const sidecar = await readSidecar(full);
      if (sidecar.kind !== 'own' && sidecar.kind !== 'seed') continue;
      const modelFile = sidecar.kind === 'own' ? sidecar.stored.file.name : undefined;
      // Beside a model of the same name (the default layout): that model's, even if it failed to
      // hash in this run (a model the engine did see has its sidecar in `expected`).
      if (MODEL_FILE_EXTENSIONS.some((ext) => names.has(`${stem}${ext}`.toLowerCase()))) continue;
      const version = sidecar.kind === 'own' ? sidecar.stored.version : sidecar.version;
      const model = sidecar.kind === 'own' ? sidecar.stored.model?.name : undefined;
      const label = [model ?? version.model?.name, version.name].filter(Boolean).join(' — ');
      orphans.set(full, { path: full, kind: sidecar.kind, ...(modelFile ? { modelFile } : {}), ...(label ? { model: label } : {}) });
    }
  };
  for (const root of roots) await walk(root);
  return [...orphans.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/** The report for people. */
export function formatLibraryReport(report: LibraryReport): string {
  const lines: string[] = [];
  const { files } = report;
  lines.push(
    `Library report (${report.jobs.length === 1 ? `job ${report.jobs[0]}` : `jobs ${report.jobs.join(', ')}`}): ${plural(files.total, 'model file')}, ${files.identified} identified, ${files.unidentified} unidentified, ${files.unreadable} unreadable`,
  );
  const section = (title: string, items: unknown[], render: () => void) => {
    lines.push('', `${title} (${items.length})`);
    if (items.length === 0) lines.push('  none');
    else render();
  };
  section('Duplicates: the same file in several places', report.duplicates.sameHash, () => {
    for (const group of report.duplicates.sameHash) {
      lines.push(`  SHA-256 ${group.sha256.slice(0, 12)}…  ${formatBytes(group.size)} × ${group.paths.length}`);
      for (const file of group.paths) lines.push(`    ${file}`);
    }
  });
  section('Duplicates: the same CivitAI version in different files', report.duplicates.sameVersion, () => {
    for (const group of report.duplicates.sameVersion) {
      lines.push(`  ${group.model}${group.version ? ` — ${group.version}` : ''} (version ${group.versionId})`);
      for (const file of group.files) lines.push(`    ${file.path}${file.sha256 ? `  SHA-256 ${file.sha256.slice(0, 12)}…` : ''}`);
    }
  });
  section('Unidentified files', report.unidentified, () => {
    for (const item of report.unidentified) lines.push(`  ${item.path}  (${item.status}${item.error ? `: ${item.error}` : ''})`);
  });
  section('Newer versions of the same family (base model and variant)', report.newerVersions, () => {
    for (const item of report.newerVersions) {
      lines.push(`  ${item.path}`);
      lines.push(`    ${item.model} ${item.current.name || item.current.id} (${item.current.baseModel}${item.current.date ? `, ${item.current.date.slice(0, 10)}` : ''}); newer:`);
      for (const newer of item.newer) {
        lines.push(`      ${newer.name || newer.id} (version ${newer.id}${newer.date ? `, ${newer.date.slice(0, 10)}` : ''})${newer.localPath ? `, in the library: ${newer.localPath}` : ', not in the library'}`);
      }
    }
  });
  section('Files changed since their sidecar was written (hash mismatch)', report.hashMismatches, () => {
    for (const item of report.hashMismatches) {
      lines.push(`  ${item.path}`);
      lines.push(`    sidecar ${item.sidecar} says ${item.sidecarSha256.slice(0, 12)}…, the file is ${item.fileSha256.slice(0, 12)}…${item.sizeChanged ? ' (size changed)' : ''}`);
    }
  });
  section('Orphan sidecars (no model file of that name)', report.orphanSidecars, () => {
    for (const item of report.orphanSidecars) {
      lines.push(`  ${item.path}${item.model ? `  (${item.model}${item.modelFile ? `, was ${item.modelFile}` : ''})` : item.modelFile ? `  (was ${item.modelFile})` : ''}`);
    }
  });
  if (report.unreadable.length > 0) {
    section('Unreadable files', report.unreadable, () => {
      for (const item of report.unreadable) lines.push(`  ${item.path}: ${item.message}`);
    });
  }
  return `${lines.join('\n')}\n`;
}
