/**
 * The site's data, made once per process for everything that shows it: the injected pages and
 * the content loader. The scan jobs run, each record is split (details.ts), the details go to one
 * file per model and the entries to one file that the pages read while they render.
 *
 * Why files and not module state: Astro loads the integration, the content config and the
 * prerendered pages as separate module instances (the pages even as a bundle of their own), and
 * a host site may render the gallery without declaring any content collection. Why one run per
 * process: a host that also uses the loader for pages of its own must not scan its library twice.
 */
import path from 'node:path';
import { selectJobs } from '../engine/config/index.ts';
import type { Config, ScanJob } from '../engine/config/schema.ts';
import type { ModelRecord } from '../engine/records/schema.ts';
import { runScanJob, type ScanJobResult } from '../engine/run.ts';
import type { UpdateState } from '../engine/updates/schema.ts';
import { readUpdateState } from '../engine/updates/state.ts';
import { writeFileAtomic } from '../engine/util/atomic-write.ts';
import { fanOut, openLogFile } from '../engine/util/log-file.ts';
import { redactingLogger, type Logger } from '../engine/util/logger.ts';
import { pruneSiteDetails, splitForSite, writeDetailsFiles } from './details.ts';
import { ENTRIES_FORMAT, entriesStamp, readSiteData, shareSiteData, type SiteEntry, type SiteProblem } from './entries.ts';
import { entriesFileStat, entryKeys, entrySalt, familiesOf, previousEntries, updatesUntil, writeEntryManifest, type EntryStamp, type PreviousEntries } from './entry-cache.ts';
import { carryMissing, fileExists, organizeMovedPaths } from './missing.ts';
import { resourceRefs } from './resources.ts';
import { siteDetailsDir, siteSettings } from './settings.ts';
import { readSidecarValues, type SiteSidecarValues } from './sidecar-values.ts';

export { readSiteData, type SiteEntry, type SiteProblem };

export interface SiteData {
  entries: SiteEntry[];
  problems: SiteProblem[];
  reports: ScanJobResult['report'][];
}

export interface SiteSyncOptions {
  config: Config;
  /** The config file, so one process serving two configs never mixes their data. */
  configFile: string;
  /** Scan job to build from; else `default_job`, else every scan job. */
  job?: string | undefined;
  logger: Logger;
  /**
   * A model file changed at this time (ms since the epoch): run again unless a run that started
   * after it is under way or done. The loader and the integration both watch in dev; one change
   * makes one run.
   */
  changedAt?: number;
  /**
   * Told how many records the scan jobs made, before they are made into entries: a host that
   * sizes itself to the library (the integration's `lowMemoryBuild: 'auto'`) can do so before
   * the entries and the entries file, the peak of a large build, take their memory.
   */
  onScanned?: (models: number) => void;
}

/**
 * The scan jobs the site is built from: the named job, else `default_job`, else every scan job
 * (a config with several jobs and no default still gets a gallery of the whole library).
 */
export function siteScanJobs(config: Config, job: string | undefined): { name: string; job: ScanJob }[] {
  const named = job ?? process.env.CIVITSCRAPER_JOB;
  const selected = selectJobs(config, { job: named, allJobs: named === undefined && config.default_job === undefined });
  return selected.flatMap((entry) => (entry.job.type === 'scan-paths' ? [{ name: entry.name, job: entry.job }] : []));
}

const RUNS = Symbol.for('civitscraper.siteSync');
/** `startedAt` is unset while the run waits for the one before it. */
type Runs = Map<string, { promise: Promise<SiteData>; startedAt?: number }>;

function runs(): Runs {
  const holder = globalThis as Record<symbol, Runs | undefined>;
  holder[RUNS] ??= new Map();
  return holder[RUNS];
}

/** The site's data for this config and job: made by the first caller, shared by the others. */
export function syncSite(options: SiteSyncOptions): Promise<SiteData> {
  const key = `${path.resolve(options.configFile)}\0${options.job ?? process.env.CIVITSCRAPER_JOB ?? ''}`;
  const all = runs();
  const current = all.get(key);
  const changedAt = options.changedAt;
  if (current && (changedAt === undefined || current.startedAt === undefined || current.startedAt >= changedAt)) return current.promise;
  // A new run waits for the one in flight: two engine runs on one cache never overlap.
  const slot: { promise: Promise<SiteData>; startedAt?: number } = { promise: Promise.resolve() as unknown as Promise<SiteData> };
  slot.promise = (current?.promise ?? Promise.resolve())
    .catch(() => undefined)
    .then(() => {
      slot.startedAt = Date.now();
      return runSite(options);
    });
  all.set(key, slot);
  // A failed run is not remembered: the next caller (a rebuild in dev) tries again.
  slot.promise.catch(() => {
    if (all.get(key) === slot) all.delete(key);
  });
  return slot.promise;
}

async function runSite(options: SiteSyncOptions): Promise<SiteData> {
  // `logging.file` applies under Astro as in the CLI; the console is Astro's own log.
  const file = openLogFile(options.config.logging, { debug: false }, (message) => options.logger.warn(message));
  const logger = file ? redactingLogger(fanOut(options.logger, file.logger), [options.config.api.key]) : options.logger;
  try {
    return await scanForSite(options.config, options.job, logger, options.onScanned);
  } finally {
    file?.rotating.close();
  }
}

async function scanForSite(config: Config, job: string | undefined, logger: Logger, onScanned: SiteSyncOptions['onScanned']): Promise<SiteData> {
  const entriesFile = siteSettings(config, undefined).entriesFile;
  const detailsDir = siteDetailsDir(config);
  // Everything that holds the engine's records stays inside makeEntries: at 50,000 models they
  // and their parsed API bodies are about 350 MB, which were kept while the entries file was
  // put together and, with the run's result, while every page rendered.
  const made = await makeEntries(config, job, entriesFile, detailsDir, logger, onScanned);
  const problems = siteProblems(config, made.reports);
  const entries = await withMissing(config, made.previous.all, made.found, made.inputs, logger);
  await pruneSiteDetails(detailsDir, entries.map((entry) => entry.id));
  for (const entry of entries.slice(made.found.length)) made.file.add(JSON.stringify(entry));
  await writeFileAtomic(entriesFile, made.file.finish(problems), { skipIfUnchanged: true });
  const written = entriesFileStat(entriesFile);
  if (written) {
    shareSiteData(entriesFile, { stamp: entriesStamp({ size: written[0], mtimeMs: written[1] }), entries, problems });
    await writeEntryManifest(config.scanner.cache_dir, detailsDir, written, made.stamps);
  }
  return { entries, problems, reports: made.reports };
}

interface MadeEntries {
  /** One entry per record, in the order of the run. */
  found: SiteEntry[];
  /** The entries file so far: `found`, in order. */
  file: EntriesFileBytes;
  stamps: Map<string, EntryStamp>;
  previous: PreviousEntries;
  reports: ScanJobResult['report'][];
  inputs: Set<string>;
}

/** The scan jobs' records made into entries (their details files written), the records let go. */
async function makeEntries(
  config: Config,
  job: string | undefined,
  entriesFile: string,
  detailsDir: string,
  logger: Logger,
  onScanned: SiteSyncOptions['onScanned'],
): Promise<MadeEntries> {
  const { items, reports, inputs } = await scanLibrary(config, job, logger, onScanned);
  const sidecars = await readSidecarValues(items, config.scanner.cache_dir);
  const previous = await readPrevious(config, entriesFile, detailsDir);
  const records = items.map(({ record }) => record);
  const keys = entryKeys(records, entrySalt(config));
  const familyOf = familiesOf(records);
  const now = Date.now();
  const stamps = new Map<string, EntryStamp>();
  const found: SiteEntry[] = [];
  const file = new EntriesFileBytes();
  const details = [];
  let reused = 0;
  // Raw description → sanitised (details.ts), for the files of one model. Both strings are held
  // by the records and the details of this run anyway.
  const sanitized = new Map<string, string>();
  let updateState: Promise<UpdateState | undefined> | undefined;
  for (const record of records) {
    const key = keys.get(record.id) as string;
    // As JSON has it (shareSiteData): values a sidecar left undefined are not there.
    const values = sidecars.get(record.id);
    const sidecar = values ? (JSON.parse(JSON.stringify(values)) as SiteSidecarValues) : undefined;
    const cached = previous.reuse(record.id, key, now);
    if (cached) {
      const entry: SiteEntry = { id: record.id, data: cached.data, ...(sidecar ? { sidecar } : {}), ...(cached.refs ? { refs: cached.refs } : {}) };
      found.push(entry);
      file.add(JSON.stringify(entry));
      reused += 1;
      stamps.set(record.id, { key, until: cached.until, details: cached.details });
      continue;
    }
    const parts = splitForSite(record, sanitized);
    const refs = resourceRefs(record.images.map((image) => image.meta));
    const text = JSON.stringify({ id: record.id, data: parts.entry, ...(sidecar ? { sidecar } : {}), ...(refs ? { refs } : {}) });
    // The entry as the file has it: plain JSON values, nothing shared with the record.
    found.push(JSON.parse(text) as SiteEntry);
    file.add(text);
    details.push({ id: record.id, details: parts.details });
    // The family's bodies are parsed by now (its updates were worked out for the entry).
    const family = familyOf(record);
    let state: UpdateState | undefined;
    if (family.length > 0 && parts.entry.updates !== undefined) {
      updateState ??= readUpdateState(config.scanner.cache_dir).catch(() => undefined);
      state = await updateState;
    }
    stamps.set(record.id, { key, until: updatesUntil(family, state, now) });
  }
  if (reused > 0) logger.debug(`site entries: ${reused} of ${records.length} unchanged since the last build, reused`);
  await writeDetailsFiles(detailsDir, details);
  return { found, file, stamps, previous, reports, inputs };
}

/** Every scan job's records (the first of each id), their jobs, reports and the input paths they scanned. */
async function scanLibrary(config: Config, job: string | undefined, logger: Logger, onScanned: SiteSyncOptions['onScanned']) {
  const byId = new Map<string, { record: ModelRecord; job: ScanJob }>();
  const reports: ScanJobResult['report'][] = [];
  const inputs = new Set<string>();
  for (const selected of siteScanJobs(config, job)) {
    // A site build reads the library; moving, copying or linking files is `civitscraper organize`'s
    // (the organize stage says so when it has a plan).
    const { records, report } = await runScanJob({ config, jobName: selected.name, job: selected.job, logger, organize: 'plan' });
    reports.push(report);
    for (const id of selected.job.paths ?? Object.keys(config.input_paths)) inputs.add(id);
    for (const entry of report.errors) logger.warn(`${entry.stage}: ${entry.path}: ${entry.message}`);
    for (const record of records) if (!byId.has(record.id)) byId.set(record.id, { record, job: selected.job });
  }
  onScanned?.(byId.size);
  return { items: [...byId.values()], reports, inputs };
}

/** Large enough that an entries file of 50,000 models is a hundred or so of them. */
const CHUNK_BYTES = 1 << 20;
const utf8 = new TextEncoder();

/**
 * The entries file as UTF-8, entry by entry, in 1 MiB pieces: the same bytes as encoding
 * JSON.stringify of the whole (compact: every build reads the file whole). At 50,000 models it
 * is 120 MB; each entry's text, then the joined string, the whole and an encoder's buffer of
 * three bytes a character were 700 MB held at once, and joining the pieces another 120 MB.
 */
export class EntriesFileBytes {
  #chunks: Buffer[] = [];
  #current = Buffer.allocUnsafe(CHUNK_BYTES);
  #used = 0;
  #entries = 0;

  constructor() {
    this.#append(`{"format":${JSON.stringify(ENTRIES_FORMAT)},"entries":[`);
  }

  /** The next entry, as JSON. */
  add(text: string): void {
    if (this.#entries > 0) this.#append(',');
    this.#entries += 1;
    this.#append(text);
  }

  /** The whole file in pieces (writeFileAtomic writes them one after the other), problems last; the builder is spent. */
  finish(problems: readonly SiteProblem[]): Buffer[] {
    this.#append(`],"problems":${JSON.stringify(problems)}}\n`);
    this.#seal();
    const chunks = this.#chunks;
    this.#chunks = [];
    return chunks;
  }

  #append(text: string): void {
    let rest = text;
    for (;;) {
      const { read, written } = utf8.encodeInto(rest, this.#current.subarray(this.#used));
      this.#used += written;
      if (read === rest.length) return;
      // Full: encodeInto stops before a character that does not fit, never inside one.
      rest = rest.slice(read);
      this.#seal();
      this.#current = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, rest.length * 3));
    }
  }

  #seal(): void {
    if (this.#used > 0) this.#chunks.push(this.#current.subarray(0, this.#used));
    this.#current = Buffer.alloc(0);
    this.#used = 0;
  }
}

/** What the last run wrote, and which of its entries still hold (entry-cache.ts). */
async function readPrevious(config: Config, entriesFile: string, detailsDir: string): Promise<PreviousEntries> {
  const stat = entriesFileStat(entriesFile);
  let entries: SiteEntry[] | undefined;
  try {
    entries = readSiteData(entriesFile)?.entries;
  } catch {
    // An unreadable earlier file (cut short by a crash) has nothing to carry over or reuse.
    entries = undefined;
  }
  return previousEntries(config.scanner.cache_dir, detailsDir, entries, stat);
}

/** This run's entries, then those of files gone since an earlier run, within `site.missing_grace_days`. */
async function withMissing(config: Config, previous: readonly SiteEntry[], found: SiteEntry[], inputs: Set<string>, logger: Logger): Promise<SiteEntry[]> {
  const graceDays = config.site.missing_grace_days;
  if (graceDays <= 0) return found;
  const ids = new Set(found.map((entry) => entry.id));
  if (!previous.some((entry) => !ids.has(entry.id))) return found;
  const movedAway = await organizeMovedPaths(config.scanner.cache_dir);
  const entries = carryMissing(previous, found, { now: Date.now(), graceDays, inputs, exists: fileExists, movedAway });
  const missing = entries.length - found.length;
  if (missing > 0) {
    logger.info(`${missing} model file${missing === 1 ? ' is' : 's are'} missing since an earlier run: kept in the site, marked missing, for up to ${graceDays} day${graceDays === 1 ? '' : 's'} (site.missing_grace_days)`);
  }
  return entries;
}

/** The files of the run that did not become a record, once each, with the first reason. */
function siteProblems(config: Config, reports: ScanJobResult['report'][]): SiteProblem[] {
  const roots = Object.entries(config.input_paths).map(([id, input]) => ({ id, root: path.resolve(input.path) }));
  const seen = new Map<string, SiteProblem>();
  for (const report of reports) {
    for (const error of report.errors) {
      if (seen.has(error.path)) continue;
      const under = roots.find(({ root }) => error.path.startsWith(root + path.sep));
      const where = under ? `${under.id}/${path.relative(under.root, error.path).split(path.sep).join('/')}` : error.path;
      seen.set(error.path, { where, path: error.path, stage: error.stage, message: error.message });
    }
  }
  return [...seen.values()].sort((a, b) => a.where.localeCompare(b.where, 'en'));
}
