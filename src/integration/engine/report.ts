/**
 * The run report: what the CLI prints with --report, what tests assert on, and what the
 * Astro loader logs. Field names are a public interface (scripts read them).
 */
export interface ReportEntry {
  path: string;
  stage: string;
  message: string;
}

export interface RunReport {
  job: string;
  dryRun: boolean;
  startedAt: string;
  finishedAt?: string;
  seconds?: number;
  files: { found: number; failed: number };
  /** `files`/`bytes`: read in this run; the others were known without reading. */
  hash: { files: number; bytes: number; seconds: number; fromLedger: number; fromSidecars: number };
  /**
   * `requests`/`retries`: every request sent to a source's API in this run (CivitAI, civitai.red,
   * CivArchive; each retry counts), broken down in `sources`.
   */
  api: { requests: number; retries: number; identified: number; notFound: number };
  /**
   * Per source: requests sent (`civitai` includes hand-linked versions asked by id) and, for the
   * offline archive (read on this machine, nothing sent), lookups.
   */
  sources: SourceCounts;
  /** `repaired`: previews an earlier run saved that were missing or empty (0 bytes), saved again. */
  images: { downloaded: number; reused: number; failed: number; repaired: number };
  /**
   * `repaired`: files we own (metadata sidecar, `.civitai.info`, WebUI preview, A1111 keys) that
   * were missing or empty and were written again (also counted in `written`);
   * `tempFilesRemoved`: leftovers of interrupted writes swept from the models' folders.
   */
  sidecars: { written: number; unchanged: number; repaired: number; tempFilesRemoved: number };
  /** Present when the job organizes files. */
  organize?: { mode: string; planned: number; done: number; skipped: number; failed: number; runId?: string };
  /** Files that could not be processed, or whose sidecars or previews could not be written. */
  errors: ReportEntry[];
  /** Problems that did not stop a file (a preview that failed, a sidecar left alone). */
  warnings: ReportEntry[];
  fail(path: string, stage: string, message: string): void;
  warn(path: string, stage: string, message: string): void;
  finish(): void;
}

export interface SourceCounts {
  civitai: { requests: number; retries: number };
  civitai_red: { requests: number; retries: number };
  civarchive: { requests: number; retries: number };
  archive_db: { lookups: number };
}

export function emptySourceCounts(): SourceCounts {
  return {
    civitai: { requests: 0, retries: 0 },
    civitai_red: { requests: 0, retries: 0 },
    civarchive: { requests: 0, retries: 0 },
    archive_db: { lookups: 0 },
  };
}

/** The counts of the run into its report: per source, and their sum in `api`. */
export function countRequests(report: RunReport, counts: SourceCounts): void {
  report.sources = counts;
  const remote = [counts.civitai, counts.civitai_red, counts.civarchive];
  report.api.requests = remote.reduce((sum, source) => sum + source.requests, 0);
  report.api.retries = remote.reduce((sum, source) => sum + source.retries, 0);
}

/** `12 API requests (civitai.red 3, CivArchive 2), 5 archive lookups`: the run summary's words for them. */
export function requestSummary(report: Pick<RunReport, 'api' | 'sources'>): string {
  const { sources } = report;
  const others = [
    sources.civitai_red.requests > 0 ? `civitai.red ${sources.civitai_red.requests}` : '',
    sources.civarchive.requests > 0 ? `CivArchive ${sources.civarchive.requests}` : '',
  ].filter(Boolean);
  const api = `${report.api.requests} API request${report.api.requests === 1 ? '' : 's'}${others.length > 0 ? ` (CivitAI ${sources.civitai.requests}, ${others.join(', ')})` : ''}`;
  const lookups = sources.archive_db.lookups;
  return lookups > 0 ? `${api}, ${lookups} archive lookup${lookups === 1 ? '' : 's'}` : api;
}

export function createReport(job: string, dryRun: boolean): RunReport {
  const started = performance.now();
  const failedPaths = new Set<string>();
  const report: RunReport = {
    job,
    dryRun,
    startedAt: new Date().toISOString(),
    files: { found: 0, failed: 0 },
    hash: { files: 0, bytes: 0, seconds: 0, fromLedger: 0, fromSidecars: 0 },
    api: { requests: 0, retries: 0, identified: 0, notFound: 0 },
    sources: emptySourceCounts(),
    images: { downloaded: 0, reused: 0, failed: 0, repaired: 0 },
    sidecars: { written: 0, unchanged: 0, repaired: 0, tempFilesRemoved: 0 },
    errors: [],
    warnings: [],
    fail(path, stage, message) {
      report.errors.push({ path, stage, message });
      failedPaths.add(path);
      report.files.failed = failedPaths.size;
    },
    warn(path, stage, message) {
      report.warnings.push({ path, stage, message });
    },
    finish() {
      report.finishedAt = new Date().toISOString();
      report.seconds = Math.round(performance.now() - started) / 1000;
    },
  };
  return report;
}

/** The report as JSON (without its methods). */
export function reportToJson(report: RunReport): Record<string, unknown> {
  const { fail, warn, finish, ...data } = report;
  void fail;
  void warn;
  void finish;
  return data;
}
