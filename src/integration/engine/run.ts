/**
 * One scan-paths job, stage by stage: discover → hash → identify → parent models → previews →
 * sidecars → records. Framework-free: the Astro loader and the CLI both call `runScanJob`.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createCivitaiClient, type CivitaiClient } from './civitai/client.ts';
import type { Model, ModelVersion, VersionImage } from './civitai/schemas.ts';
import type { Config, ScanJob } from './config/schema.ts';
import { fetchParentModels } from './enrich/parents.ts';
import {
  applyPlan,
  formatPlanTable,
  planOrganization,
  recoverIncompleteRuns,
  relocateRecord,
  resolveOutputRoot,
  type OrganizePlan,
} from './organize/index.ts';
import { identifyBySha256, messageOf, type Identification } from './enrich/identify.ts';
import { NSFW_LEVEL_VALUES, isNsfwVersion } from './media/nsfw.ts';
import { downloadPreviews, selectImages } from './media/previews.ts';
import { assignRecordIds } from './records/id.ts';
import type { Hashes, LocalImage, ModelRecord } from './records/schema.ts';
import { discoverModelFiles, type DiscoveredFile } from './scan/discover.ts';
import { createHashPool, type HashPool } from './scan/hash-pool.ts';
import { ModelFileError, readSafetensorsHeader } from './scan/safetensors.ts';
import { summarizeTraining, type TrainingSummary } from './records/training.ts';
import { openStateStore, resolveHashes, StateStoreUnavailableError, type StateStore } from './state/index.ts';
import { readSidecar, slimModel, type SidecarRead, type StoredSidecar } from './sidecars/metadata.ts';
import { writeModelSidecars } from './sidecars/write.ts';
import { resolveSidecarLayout, type SidecarLayout } from './sidecars/paths.ts';
import { formatBytes } from './util/format.ts';
import { silentLogger, type Logger } from './util/logger.ts';
import { mapLimit } from './util/map-limit.ts';
import type { ProgressListener } from './progress.ts';
import { createReport, type RunReport } from './report.ts';

export interface ScanJobOptions {
  config: Config;
  jobName: string;
  job: ScanJob;
  logger?: Logger;
  /** Change nothing on disk (no sidecar, no preview). API calls still happen. */
  dryRun?: boolean;
  /** Ignore what earlier runs stored and ask CivitAI again. */
  forceRefresh?: boolean;
  /** Injected by tests; built from `config.api` otherwise. */
  client?: CivitaiClient;
  onProgress?: ProgressListener;
  /** Stops the run between files (Ctrl-C); what finished is kept. */
  signal?: AbortSignal;
}

/** Ctrl-C (the abort signal) stopped the run; `report` says what was done by then. */
export class RunInterruptedError extends Error {
  override name = 'RunInterruptedError';
  readonly report: RunReport;
  constructor(report: RunReport) {
    super('interrupted: what finished is kept; run again to continue');
    this.report = report;
  }
}

export interface ScanJobResult {
  records: ModelRecord[];
  report: RunReport;
  /** The organization plan, when the job organizes (applied, or only planned in a dry run). */
  organizePlan?: OrganizePlan;
}

/** Hash types a seed sidecar's file entry may give us. */
const HASH_TYPES = ['SHA256', 'AutoV2', 'AutoV1', 'AutoV3', 'BLAKE3', 'CRC32'] as const;

interface WorkItem {
  file: DiscoveredFile;
  layout: SidecarLayout;
  sidecar: SidecarRead;
  /** What an earlier run stored, when still valid for this file. */
  stored?: StoredSidecar;
  hashes?: Hashes;
  identification?: Identification;
  version?: ModelVersion;
  model?: Model;
  images: LocalImage[];
  checkedAt?: string;
  problems: { stage: string; message: string }[];
  /** Looked up in this run (as opposed to rebuilt from a sidecar). */
  fresh: boolean;
  /** Enrichment or previews failed this time: the next run completes it. */
  incomplete?: boolean;
}

export async function runScanJob(options: ScanJobOptions): Promise<ScanJobResult> {
  const logger = options.logger ?? silentLogger;
  // One store per run; without node:sqlite (or with a broken disk) the run goes on without it.
  let state: StateStore | undefined;
  try {
    state = openStateStore(path.resolve(options.config.scanner.cache_dir), { logger });
  } catch (error) {
    if (!(error instanceof StateStoreUnavailableError)) throw error;
    logger.warn(`${error.message}: every file is hashed and looked up again in each run`);
  }
  const pool = createHashPool({ threads: options.config.scanner.hash_threads, signal: options.signal, logger });
  try {
    return await runWith(options, logger, state, pool);
  } finally {
    await pool.close();
    state?.close();
  }
}

async function runWith(options: ScanJobOptions, logger: Logger, state: StateStore | undefined, pool: HashPool): Promise<ScanJobResult> {
  const { config, job, jobName, signal } = options;
  const progress = options.onProgress;
  const dryRun = options.dryRun ?? config.dry_run;
  const forceRefresh = options.forceRefresh ?? (job.force_refresh || config.scanner.force_refresh);
  const report = createReport(jobName, dryRun);
  // A front end that draws progress (the CLI) has its own stage lines; Astro's log gets ours.
  const stageLog: Logger = progress ? { ...logger, info: (message) => logger.debug(message) } : logger;
  const client =
    options.client ??
    createCivitaiClient(config.api, {
      logger,
      cache: state ? { store: state.cache, maxAgeSeconds: config.scanner.cache_validity, bypass: forceRefresh } : undefined,
    });

  // Discover
  const inputIds = job.paths ?? Object.keys(config.input_paths);
  const exclude = [path.resolve(config.scanner.cache_dir)];
  const discovery = await discoverModelFiles(config.input_paths, inputIds, { recursive: job.recursive, exclude });
  if (job.organization.enabled && job.organization.operation_mode !== 'move') {
    // Copies and links in the organized tree are a view of the library, not more of it.
    const outputDir = job.organization.output_dir;
    discovery.files = discovery.files.filter((file) => !isInside(resolveOutputRoot(outputDir, file.path), file.path));
  }
  report.files.found = discovery.files.length;
  progress?.({ stage: 'discover', phase: 'end', done: discovery.files.length, total: discovery.files.length });
  for (const problem of discovery.problems) report.fail(problem.path, problem.stage, problem.message);
  stageLog.info(`discover: ${discovery.files.length} model files in ${inputIds.length} input path(s)`);

  // Read what earlier runs left, then hash what is new or changed.
  const candidates: WorkItem[] = [];
  for (const file of discovery.files) {
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
    candidates.push(item);
  }
  await hashStage(candidates, { config, state, pool, report, logger: stageLog, progress, signal: options.signal });
  if (signal?.aborted) {
    report.finish();
    throw new RunInterruptedError(report);
  }
  const items = candidates.filter((item) => item.hashes !== undefined);

  // Identify
  const reuse = !forceRefresh && (job.skip_existing || job.use_cached_metadata);
  // A sidecar written while CivitAI was failing is completed by the next run.
  const toLookUp = job.use_cached_metadata ? [] : items.filter((item) => !(reuse && item.stored && !item.stored.incomplete));
  for (const item of items) {
    if (item.stored && !toLookUp.includes(item)) {
      item.version = item.stored.version;
      item.model = item.stored.model;
      item.images = item.stored.images;
      item.checkedAt = item.stored.checkedAt;
      item.identification = { status: 'identified', version: item.stored.version };
    }
  }
  // A hash CivitAI answered 404 for within a week is not asked again (unless forced).
  const knownMissing = (hash: string) => !forceRefresh && state?.notFound.isFresh(hash) === true;
  const sha256s = toLookUp.map((item) => item.hashes?.SHA256?.toUpperCase()).filter((hash): hash is string => Boolean(hash));
  progress?.({ stage: 'identify', phase: 'start', done: 0, total: sha256s.length });
  const answers = await identifyBySha256(client, sha256s.filter((hash) => !knownMissing(hash)));
  for (const hash of sha256s) if (knownMissing(hash)) answers.set(hash, { status: 'not-found' });
  recordLookups(state, answers, forceRefresh);
  progress?.({ stage: 'identify', phase: 'end', done: sha256s.length, total: sha256s.length });
  const checkedAt = new Date().toISOString();
  for (const item of toLookUp) {
    const answer = answers.get(item.hashes?.SHA256?.toUpperCase() ?? '');
    item.identification = answer ?? { status: 'unknown', error: 'no SHA-256 to look up' };
    item.fresh = true;
    if (answer?.status === 'identified') {
      item.version = answer.version;
      item.checkedAt = checkedAt;
      // Hashes seeded from another tool's sidecar may be stale: read the file next time.
      if (sizeMismatch(answer.version, item)) state?.ledger.forget(item.file.path);
    } else if (item.sidecar.kind === 'own') {
      // A failed or negative lookup never replaces what an earlier run stored.
      item.version = item.sidecar.stored.version;
      item.model = item.sidecar.stored.model;
      item.images = item.sidecar.stored.images;
      item.checkedAt = item.sidecar.stored.checkedAt;
    }
    if (answer?.status === 'unknown') report.fail(item.file.path, 'identify', answer.error);
  }
  report.api.identified = items.filter((item) => item.identification?.status === 'identified').length;
  report.api.notFound = items.filter((item) => item.identification?.status === 'not-found').length;
  stageLog.info(`identify: ${report.api.identified} identified, ${report.api.notFound} not on CivitAI`);

  // Parent models, once per model id.
  const needParents = toLookUp.filter((item) => item.identification?.status === 'identified' && item.version?.modelId);
  const parents = await fetchParentModels(
    client,
    needParents.map((item) => item.version?.modelId as number),
  );
  for (const item of needParents) {
    const modelId = item.version?.modelId as number;
    const model = parents.models.get(modelId);
    const stored = item.sidecar.kind === 'own' ? item.sidecar.stored.model : undefined;
    if (model) item.model = slimModel(model);
    // A failed lookup keeps what an earlier run stored (a 404 means deleted: keep that too).
    else if (stored?.id === modelId) item.model = stored;
    const failure = parents.failed.get(modelId);
    if (failure) {
      item.problems.push({ stage: 'enrich', message: `parent model ${modelId}: ${failure}` });
      item.incomplete = true;
    }
  }

  // Previews
  const imagesConfig = job.output.images;
  const policy = {
    maxCount: imagesConfig.max_count,
    maxNsfwLevel: NSFW_LEVEL_VALUES[imagesConfig.max_nsfw_level],
    width: imagesConfig.width,
    original: imagesConfig.original,
  };
  if (imagesConfig.save) {
    await mapLimit(
      items.filter((item) => item.fresh && item.identification?.status === 'identified' && item.version),
      config.api.batch.max_concurrent,
      async (item) => {
        const version = item.version as ModelVersion;
        const previous = item.sidecar.kind === 'own' ? item.sidecar.stored.images : [];
        const candidates = await previewCandidates(client, version, config, policy.maxNsfwLevel, policy.maxCount, item);
        if (candidates === undefined && previous.length > 0) {
          // The full list is unknown this time: keep the previews we have rather than
          // replacing them with the SFW-only inline list.
          item.incomplete = true;
          item.images = previous;
          return;
        }
        const outcome = await downloadPreviews({
          client,
          images: selectImages(candidates ?? version.images ?? [], policy),
          layout: item.layout,
          previous,
          policy,
          dryRun,
        });
        const degraded = candidates === undefined || outcome.problems.length > 0;
        if (degraded) item.incomplete = true;
        // A failed feed or download never leaves a model with fewer previews than it had.
        item.images = degraded && outcome.images.length < previous.length ? previous : outcome.images;
        report.images.downloaded += outcome.downloaded;
        report.images.reused += outcome.reused;
        report.images.failed += outcome.problems.length;
        item.problems.push(...outcome.problems);
      },
    );
  }

  // What the file says about itself (kohya ss_* keys, modelspec.*): a header read, no more.
  const training = new Map<string, TrainingSummary>();
  await mapLimit(
    items.filter((item) => item.file.ext === '.safetensors'),
    16,
    async (item) => {
      const header = await readSafetensorsHeader(item.file.path).catch(() => undefined);
      const summary = summarizeTraining(header?.metadata);
      if (summary) training.set(item.file.path, summary);
    },
  );

  // Records and sidecars
  const ids = assignRecordIds(items.map((item) => ({ stem: item.file.stem, sha256: item.hashes?.SHA256 ?? '' })));
  const records: ModelRecord[] = [];
  for (const [index, item] of items.entries()) {
    const status = item.identification?.status ?? 'not-checked';
    const doubtful = item.version && status === 'identified' ? sizeMismatch(item.version, item) : undefined;
    const { dev, ino, ...file } = item.file;
    void dev;
    void ino;
    const record: ModelRecord = {
      id: ids[index] as string,
      file,
      hashes: item.hashes ?? {},
      civitai: {
        status,
        ...(item.checkedAt ? { checkedAt: item.checkedAt } : {}),
        ...(item.identification?.status === 'unknown' ? { error: item.identification.error } : {}),
        ...(doubtful ? { doubtful } : {}),
      },
      ...(item.version ? { version: item.version } : {}),
      ...(item.model ? { model: item.model } : {}),
      images: item.images,
      ...(training.has(item.file.path) ? { training: training.get(item.file.path) } : {}),
      problems: item.problems,
    };
    const canWrite = item.sidecar.kind !== 'foreign' && item.sidecar.kind !== 'unreadable';
    if (item.version && canWrite) {
      record.sidecarPath = item.layout.metadataPath;
      // A good sidecar is never replaced by what a failing run could gather.
      const keepGood = item.incomplete === true && item.sidecar.kind === 'own' && !item.sidecar.stored.incomplete;
      if (item.fresh && !dryRun && status === 'identified' && !keepGood) {
        const written = await writeModelSidecars({
          record,
          version: item.version,
          layout: item.layout,
          existing: item.sidecar,
          compat: job.output.compat,
          incomplete: item.incomplete === true,
        });
        report.sidecars.written += written.written;
        report.sidecars.unchanged += written.unchanged;
        item.problems.push(...written.problems);
      }
    }
    for (const problem of item.problems) report.warn(item.file.path, problem.stage, problem.message);
    records.push(record);
  }

  let organizePlan: OrganizePlan | undefined;
  if (job.organization.enabled) {
    const organized = await organizeRecords(records, { config, job, logger: stageLog, dryRun, report });
    records.splice(0, records.length, ...organized.records);
    organizePlan = organized.plan;
  }

  report.api.requests = client.stats.apiRequests;
  report.api.retries = client.stats.retries;
  report.finish();
  logger.info(
    `done: ${records.length} records, ${report.api.requests} API requests, ${report.images.downloaded} previews downloaded, ${report.files.failed} files failed`,
  );
  return { records, report, ...(organizePlan ? { organizePlan } : {}) };
}

/**
 * The seed's organization phase, after sidecars exist so they move with their model. A crash
 * in an earlier run is rolled back first; in move mode the records follow their files.
 */
async function organizeRecords(
  records: ModelRecord[],
  context: { config: Config; job: ScanJob; logger: Logger; dryRun: boolean; report: RunReport },
): Promise<{ records: ModelRecord[]; plan: OrganizePlan }> {
  const { config, job, logger, dryRun, report } = context;
  const plan = planOrganization(
    records.filter((record) => record.civitai.status === 'identified' || record.version),
    { organization: job.organization, output: job.output, nsfwThreshold: config.api.nsfw.level_threshold },
  );
  for (const warning of plan.warnings) report.warn(plan.outputDir, 'organize', warning);
  if (dryRun) {
    logger.info(`organize (dry run):\n${formatPlanTable(plan)}`);
    report.organize = { mode: plan.mode, planned: plan.units.length, done: 0, skipped: 0, failed: 0 };
    return { records, plan };
  }
  const journalDir = path.join(path.resolve(config.scanner.cache_dir), 'organize-journal');
  await recoverIncompleteRuns(journalDir);
  // Files replaced under `collision: overwrite` are kept, so that undo can bring them back.
  const result = await applyPlan(plan, { journalDir, logger, keepTrash: true });
  if (result.trashDir) {
    report.warn(
      plan.outputDir,
      'organize',
      `the files this run overwrote are kept in ${result.trashDir} (\`civitscraper organize --undo\` restores them); delete that folder to free the space`,
    );
  }
  for (const problem of result.problems) report.warn(plan.outputDir, 'organize', problem);
  const byId = new Map(records.map((record) => [record.id, record]));
  for (const unit of result.units) {
    if (unit.status !== 'failed') continue;
    report.fail(byId.get(unit.recordId)?.file.path ?? plan.outputDir, 'organize', unit.reason ?? 'could not be organized');
  }
  report.organize = {
    mode: plan.mode,
    planned: plan.units.length,
    done: result.counts.done + result.counts['in-place'],
    skipped: result.counts.skipped,
    failed: result.counts.failed,
    ...(result.runId ? { runId: result.runId } : {}),
  };
  logger.info(`organize: ${report.organize.done} organized (${plan.mode}), ${report.organize.skipped} skipped, ${report.organize.failed} failed`);
  const moved = new Map(result.relocations.map((relocation) => [relocation.recordId, relocation]));
  return {
    plan,
    records: records.map((record) => {
      const relocation = moved.get(record.id);
      return relocation ? relocateRecord(record, relocation) : record;
    }),
  };
}

function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/**
 * Hashes what has no trusted hashes yet: from the ledger (0 bytes read), other tools' sidecars,
 * or one read in the worker pool. Finished files are remembered at once, so a run stopped half
 * way keeps them.
 */
async function hashStage(
  items: WorkItem[],
  context: {
    config: Config;
    state: StateStore | undefined;
    pool: HashPool;
    report: RunReport;
    logger: Logger;
    progress: ProgressListener | undefined;
    signal: AbortSignal | undefined;
  },
): Promise<void> {
  const { config, state, pool, report, logger, progress, signal } = context;
  const pending = items.filter((item) => !item.hashes);
  const total = pending.length;
  const totalBytes = pending.reduce((sum, item) => sum + item.file.size, 0);
  const byPath = new Map(pending.map((item) => [item.file.path, item]));
  const started = performance.now();
  let done = 0;
  let bytes = 0;
  progress?.({ stage: 'hash', phase: 'start', done, total, bytes, totalBytes });
  const result = await resolveHashes(
    pending.map((item) => item.file),
    {
      types: config.scanner.hash_types,
      pool,
      store: state,
      ownSidecars: (file) => [byPath.get(file.path)?.layout.metadataPath ?? ''].filter(Boolean),
      signal,
      onResult: (file, outcome) => {
        // A file cancelled by Ctrl-C is neither done nor failed: the next run hashes it.
        if ('error' in outcome && signal?.aborted) return;
        done += 1;
        if (!('error' in outcome)) bytes += outcome.bytesRead;
        progress?.({ stage: 'hash', phase: 'progress', done, total, bytes, totalBytes, item: file.path });
        const item = byPath.get(file.path);
        if (!item) return;
        if ('error' in outcome) report.fail(file.path, 'hash', describeFileError(outcome.error));
        else item.hashes = outcome.hashes;
      },
    },
  );
  // A file still being copied in: what was hashed is not what was found. Next run reads it whole.
  await mapLimit(pending.filter((item) => item.hashes && result.resolved.get(item.file.path)?.source === 'read'), 16, async (item) => {
    const now = await stat(item.file.path).catch(() => undefined);
    if (now && now.size === item.file.size && now.mtimeMs === item.file.mtimeMs) return;
    item.hashes = undefined;
    state?.ledger.forget(item.file.path);
    report.fail(item.file.path, 'hash', 'the file changed while it was being scanned (still being copied?); it is read again on the next run');
  });
  report.hash.files = result.counts.read;
  report.hash.bytes = result.bytesRead;
  report.hash.fromLedger = result.counts.ledger;
  report.hash.fromSidecars = result.counts.sidecar;
  report.hash.seconds = round((performance.now() - started) / 1000);
  progress?.({ stage: 'hash', phase: 'end', done, total, bytes, totalBytes });
  logger.info(
    `hash: ${result.counts.read} files read (${formatBytes(result.bytesRead)} in ${report.hash.seconds} s), ${result.counts.ledger} from the ledger, ${result.counts.sidecar} from other tools' sidecars`,
  );
}

/** 404s are remembered for a week; a hash found after all is forgotten from that list. */
function recordLookups(state: StateStore | undefined, answers: Map<string, Identification>, forced: boolean): void {
  if (!state) return;
  state.transaction(() => {
    for (const [hash, answer] of answers) {
      if (answer.status === 'identified') state.notFound.remove(hash);
      else if (answer.status === 'not-found' && (forced || !state.notFound.isFresh(hash))) state.notFound.add(hash);
    }
  });
}

/**
 * By-hash answers hide the NSFW previews of NSFW models; `/images?modelVersionId=…` has them.
 * Only asked when the policy allows more than PG. A failure keeps the inline list.
 */
async function previewCandidates(
  client: CivitaiClient,
  version: ModelVersion,
  config: Config,
  maxNsfwLevel: number,
  maxCount: number,
  item: WorkItem,
): Promise<VersionImage[] | undefined> {
  const inline = version.images ?? [];
  if (maxCount === 0 || maxNsfwLevel <= NSFW_LEVEL_VALUES.PG || !isNsfwVersion(version, config.api.nsfw.level_threshold)) {
    return inline;
  }
  try {
    const feed = await client.getImages({
      modelVersionId: version.id,
      nsfw: config.api.nsfw.browsing_level,
      limit: Math.max(20, maxCount * 3),
    });
    return feed.items.length > 0 ? feed.items : inline;
  } catch (error) {
    item.problems.push({ stage: 'images', message: `NSFW preview feed: ${messageOf(error)}` });
    // undefined: the full list is unknown this time (the caller keeps what it had).
    return undefined;
  }
}

/**
 * CivitAI's file with our hash should be our size (`sizeKB` is bytes / 1024); a different size
 * means a wrong hash on CivitAI's side or a stale hash on ours.
 */
function sizeMismatch(version: ModelVersion, item: WorkItem): string | undefined {
  const sha = item.hashes?.SHA256?.toUpperCase();
  const match = (version.files ?? []).find((file) => file.hashes?.SHA256?.toUpperCase() === sha);
  if (typeof match?.sizeKB !== 'number') return undefined;
  const theirs = Math.round(match.sizeKB * 1024);
  if (Math.abs(theirs - item.file.size) <= 1024) return undefined;
  return `CivitAI's file for this hash is ${theirs} bytes, this one is ${item.file.size}`;
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

function describeFileError(error: unknown): string {
  if (error instanceof ModelFileError) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'cannot be read (permission denied)';
  if (code === 'ENOENT') return 'disappeared while scanning';
  if (code === 'EISDIR') return 'is a folder, not a file';
  return messageOf(error);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

