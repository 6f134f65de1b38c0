/**
 * One scan-paths job as a list of stages over one run context: discover → read sidecars → hash
 * → identify → parent models → the other hashes (from CivitAI) → previews → training metadata → records → sidecars → organize.
 * Framework-free: the Astro loader and the CLI both call `runScanJob`.
 */
import path from 'node:path';
import { createCivitaiClient, createOfflineClient, type CivitaiClient } from './civitai/client.ts';
import type { Model, ModelVersion } from './civitai/schemas.ts';
import type { Config, ScanJob } from './config/schema.ts';
import type { Identification } from './enrich/identify.ts';
import type { OrganizePlan } from './organize/index.ts';
import type { Hashes, LocalImage, ModelRecord } from './records/schema.ts';
import type { TrainingSummary } from './records/training.ts';
import type { DiscoveredFile } from './scan/discover.ts';
import { createHashPool, type HashPool } from './scan/hash-pool.ts';
import { acquireCacheLock, openStateStore, StateStoreUnavailableError, type StateStore } from './state/index.ts';
import type { SidecarRead, StoredSidecar } from './sidecars/metadata.ts';
import type { SidecarLayout } from './sidecars/paths.ts';
import { silentLogger, type Logger } from './util/logger.ts';
import type { ProgressListener } from './progress.ts';
import { countRequests, createReport, requestSummary, type RunReport } from './report.ts';
import { discover } from './stages/discover.ts';
import { completeHashes } from './stages/complete-hashes.ts';
import { enrichParents } from './stages/enrich.ts';
import { hashFiles } from './stages/hash.ts';
import { identify } from './stages/identify.ts';
import { organize } from './stages/organize.ts';
import { downloadImages } from './stages/previews.ts';
import { readSidecars } from './stages/read-sidecars.ts';
import { buildRecords } from './stages/records.ts';
import { writeSidecars } from './stages/sidecars.ts';
import { writeLoraManagerSidecars } from './stages/lora-manager.ts';
import { buildSourceChain, type NetworkMode, type SourceChain } from './sources/chain.ts';
import { readTraining } from './stages/training.ts';
import { annotateUpdatesWhenRead } from './stages/updates.ts';

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
  /**
   * `plan`: an enabled organization is only planned (result.organizePlan); nothing is moved,
   * copied or linked (the Astro side: `astro dev`/`astro build` never touch the library).
   * Default `apply`, as in the seed.
   */
  organize?: 'apply' | 'plan';
  /**
   * `offline`: no request at all (the archive of `sources.archive_db` and local data only; no
   * previews are downloaded); `no-remote`: no hash is sent anywhere (the archive identifies).
   * Default `online`.
   */
  network?: NetworkMode;
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

/** One model file on its way through the stages. */
export interface WorkItem {
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
  /**
   * The file's training summary when the state store knew it (`null`: its header has none);
   * undefined: the training stage reads the header.
   */
  training?: TrainingSummary | null;
  /** The sidecar came from the state store's stamp, and the stamp did not know `training`. */
  stampWithoutTraining?: boolean;
  /** Where a safetensors file's tensors start, once this run read its header (read once). */
  tensorOffset?: number;
  /** `training` was read from the header in this run (the state store does not know it yet). */
  trainingRead?: boolean;
}

/** Everything the stages share: the settings of the run, then what earlier stages produced. */
export interface RunContext {
  readonly config: Config;
  readonly job: ScanJob;
  readonly dryRun: boolean;
  readonly forceRefresh: boolean;
  readonly client: CivitaiClient;
  readonly state: StateStore | undefined;
  readonly pool: HashPool;
  readonly report: RunReport;
  readonly progress: ProgressListener | undefined;
  readonly signal: AbortSignal | undefined;
  /** ScanJobOptions.organize. */
  readonly organize: 'apply' | 'plan';
  /** ScanJobOptions.network. */
  readonly network: NetworkMode;
  /** Where identification answers come from, in the user's order. */
  readonly sources: SourceChain;
  /** The stages' own summary lines (debug when a front end draws progress itself). */
  readonly log: Logger;
  /** Every model file found. */
  files: DiscoveredFile[];
  /** The folders discovery read, with the temp-file names in each (DiscoveryResult.listings). */
  listings: Map<string, string[]>;
  /** The same files, with what their sidecars say. */
  candidates: WorkItem[];
  /** The candidates that have hashes: the ones the run goes on with. */
  items: WorkItem[];
  /** The items asked of CivitAI in this run. */
  toLookUp: WorkItem[];
  /** kohya/modelspec training metadata by file path. */
  training: Map<string, TrainingSummary>;
  /** One per item, in the same order until organizing relocates them. */
  records: ModelRecord[];
  organizePlan?: OrganizePlan;
}

type StageName =
  | 'discover'
  | 'read-sidecars'
  | 'hash'
  | 'identify'
  | 'enrich'
  | 'complete-hashes'
  | 'images'
  | 'training'
  | 'records'
  | 'updates'
  | 'sidecars'
  | 'lora-manager'
  | 'organize';

interface RunStage {
  readonly name: StageName;
  readonly run: (ctx: RunContext) => Promise<void>;
  /**
   * Ctrl-C ends the run after this stage (the hash pool stops early on the same signal). Only
   * hashing takes long; once CivitAI has answered, the run finishes so the answers are kept.
   */
  readonly interruptible?: boolean;
}

const STAGES: readonly RunStage[] = [
  { name: 'discover', run: discover },
  { name: 'read-sidecars', run: readSidecars },
  { name: 'hash', run: hashFiles, interruptible: true },
  { name: 'identify', run: identify },
  { name: 'enrich', run: enrichParents },
  { name: 'complete-hashes', run: completeHashes },
  { name: 'images', run: downloadImages },
  { name: 'training', run: readTraining },
  { name: 'records', run: buildRecords },
  { name: 'updates', run: annotateUpdatesWhenRead },
  { name: 'sidecars', run: writeSidecars },
  { name: 'lora-manager', run: writeLoraManagerSidecars },
  { name: 'organize', run: organize },
];

export async function runScanJob(options: ScanJobOptions): Promise<ScanJobResult> {
  const logger = options.logger ?? silentLogger;
  const cacheDir = path.resolve(options.config.scanner.cache_dir);
  // One run at a time per cache: a second one waits (CacheLockedError after a bounded wait).
  const lock = await acquireCacheLock(cacheDir, { logger, signal: options.signal, job: options.jobName });
  try {
    // One store per run; without node:sqlite (or with a broken disk) the run goes on without it.
    let state: StateStore | undefined;
    try {
      state = openStateStore(cacheDir, { logger });
    } catch (error) {
      if (error instanceof StateStoreUnavailableError) {
        logger.warn(`${error.message}: every file is hashed and looked up again in each run`);
      } else {
        logger.warn(`state store in ${cacheDir} cannot be used (${error instanceof Error ? error.message : String(error)}); going on without it`);
      }
    }
    const pool = createHashPool({ threads: options.config.scanner.hash_threads, signal: options.signal, logger });
    const network = options.network ?? options.config.sources.network;
    const client = runClient(options, logger, state, network);
    let sources: SourceChain | undefined;
    try {
      sources = await buildSourceChain(options.config, { client, mode: network, logger, ...(options.signal ? { signal: options.signal } : {}) });
      return await runStages(createContext(options, logger, state, pool, client, sources), logger);
    } finally {
      sources?.close();
      await pool.close();
      state?.close();
    }
  } finally {
    lock.release();
  }
}

function forceRefreshOf(options: ScanJobOptions): boolean {
  return options.forceRefresh ?? (options.job.force_refresh || options.config.scanner.force_refresh);
}

function runClient(options: ScanJobOptions, logger: Logger, state: StateStore | undefined, network: NetworkMode): CivitaiClient {
  // --offline: any request is refused, so none can slip out.
  if (network === 'offline') return createOfflineClient('--offline: no request is sent');
  const { config } = options;
  return (
    options.client ??
    createCivitaiClient(config.api, {
      logger,
      cache: state ? { store: state.cache, maxAgeSeconds: config.scanner.cache_validity, bypass: forceRefreshOf(options) } : undefined,
    })
  );
}

function createContext(
  options: ScanJobOptions,
  logger: Logger,
  state: StateStore | undefined,
  pool: HashPool,
  client: CivitaiClient,
  sources: SourceChain,
): RunContext {
  const { config } = options;
  const network = options.network ?? config.sources.network;
  // Offline, previews cannot be downloaded: the ones on disk are kept, none is asked for.
  const job =
    network === 'offline'
      ? { ...options.job, output: { ...options.job.output, images: { ...options.job.output.images, save: false } } }
      : options.job;
  const progress = options.onProgress;
  const dryRun = options.dryRun ?? config.dry_run;
  const forceRefresh = forceRefreshOf(options);
  return {
    config,
    job,
    dryRun,
    forceRefresh,
    client,
    state,
    pool,
    report: createReport(options.jobName, dryRun),
    progress,
    signal: options.signal,
    organize: options.organize ?? 'apply',
    network,
    sources,
    // A front end that draws progress (the CLI) has its own stage lines; Astro's log gets ours.
    log: progress ? { ...logger, info: (message) => logger.debug(message) } : logger,
    files: [],
    listings: new Map(),
    candidates: [],
    items: [],
    toLookUp: [],
    training: new Map(),
    records: [],
  };
}

async function runStages(ctx: RunContext, logger: Logger): Promise<ScanJobResult> {
  const { report } = ctx;
  const timings: string[] = [];
  for (const stage of STAGES) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    await stage.run(ctx);
    // CPU time beside wall time: on a busy machine the wall clock says little about the work.
    const { user, system } = process.cpuUsage(cpu);
    const seconds = (performance.now() - started) / 1000;
    timings.push(`${stage.name} ${seconds.toFixed(2)} s (cpu ${((user + system) / 1e6).toFixed(2)}) [${Math.round(process.memoryUsage().heapUsed / 1e6)} MB]`);
    if (stage.interruptible && ctx.signal?.aborted) {
      report.finish();
      throw new RunInterruptedError(report);
    }
  }
  countRequests(report, ctx.sources.counts());
  report.finish();
  // Where a slow run spends its time and memory (--debug): seconds, CPU seconds and heap in use after each stage.
  logger.debug(`stages: ${timings.join(', ')}`);
  logger.info(
    `done: ${ctx.records.length} records, ${requestSummary(report)}, ${report.images.downloaded} previews downloaded, ${report.files.failed} files failed`,
  );
  return { records: ctx.records, report, ...(ctx.organizePlan ? { organizePlan: ctx.organizePlan } : {}) };
}
