/**
 * The scale suite's table (bench/suite.ts): one row per line of issue #14's table, each with the
 * figure measured, the baseline measured beside it in the same run (a bare Astro build of the
 * same page count, the seed's CivitScraper, the CDN alone, OpenSSL), their ratio, the target and
 * whether it was met. Pure: the figures come in, the rows go out, so a test can check that every
 * row is printed whatever was measured, failed or skipped.
 */

/** A bench that did not finish (its figures have a `failed` count of their own: not that). */
export interface Failure {
  error: string;
}

/** bench/scale.ts: a first run and a no-change rerun of the same library. */
export interface ScaleRun {
  seconds: number;
  maxRssMB: number;
  sidecarReads?: number;
  written?: number;
  hashedFiles?: number;
  records?: number;
  /** The rerun's figure is the median of this many (bench/scale.ts --reruns). */
  medianOf?: number;
}
export interface ScaleFigures {
  files: number;
  /** `ulimit -n` the runs had. */
  openFiles: number;
  first: ScaleRun;
  rerun?: ScaleRun;
  /** Previews saved per model (bench/scale.ts --previews). */
  previews?: number;
}

/** bench/cdn.ts. */
export interface CdnFigures {
  files: number;
  previews: number;
  rateLimit: number;
  seconds: number;
  secondsPer1000: number;
  maxRssKB: number;
  records: number;
  identified: number;
  downloaded: number;
  failed: number;
  apiRequests: number;
  cdnRate: number;
  rawRate: number;
}

/** bench/site.ts (`buildSeconds` of each build). */
export interface SiteFigures {
  models: number;
  bareCold: { buildSeconds: number };
  bareWarm: { buildSeconds: number };
  cold: { buildSeconds: number; peakRssMiB?: number };
  warm?: { buildSeconds: number; peakRssMiB?: number };
}

/** bench/seed.ts. */
export interface SeedRun {
  seconds: number;
  exit: number;
  sidecars?: number;
  previews?: number;
}
export interface SeedFigures {
  files: number;
  latencyMs: number;
  cold: { latencyMs: number; ours: SeedRun; seed: SeedRun }[];
  warm: { ours: number; seed: number; runs?: { ours: number[]; seed: number[] } };
}

/** bench/hash.ts. */
export interface HashFigures {
  cores: number;
  opensslCore?: number;
  ceiling?: number;
  defaultTypes: string[];
  poolDefault: number;
  /** read() alone from the page cache, one core, GB/s. */
  copyCore?: number;
  /** cores / (1/OpenSSL + 1/copy): what hashing through read() could reach. */
  readCeiling?: number;
  progress?: { bytes: number; seconds: number; updates: number; maxGapSeconds: number };
}

export interface SuiteInputs {
  quick: boolean;
  hash?: HashFigures | Failure;
  engine?: ScaleFigures | Failure;
  /** The same library with 2 previews per model, as the issue measured its rerun. */
  enginePreviews?: ScaleFigures | Failure;
  /** The first run with previews at the small size (default settings) and at the large one. */
  previewsSmall?: CdnFigures | Failure;
  previewsLarge?: CdnFigures | Failure;
  site?: SiteFigures | Failure;
  seed?: SeedFigures | Failure | { skipped: string };
}

export type Verdict = 'met' | 'not met' | 'n/a' | 'skipped' | 'failed';

export interface Row {
  row: string;
  figure: string;
  baseline: string;
  ratio: string;
  target: string;
  verdict: Verdict;
  note?: string;
}

/** The sizes of issue #14's table; a `--quick` run measures smaller ones. */
export const FULL_SIZES = { engineFiles: 50_500, previewsSmall: 1_010, previewsLarge: 10_100, siteModels: 5_000, seedFiles: 105 };

const NONE = '—';

function isFailure(value: unknown): value is Failure {
  return typeof value === 'object' && value !== null && 'error' in value;
}

const n = (value: number) => value.toLocaleString('en');
const s = (seconds: number) => `${seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1)} s`;
const times = (ratio: number) => `${ratio.toFixed(ratio < 10 ? 2 : 1)}×`;
/** `seed / ours`: "3.2× faster", or "2.1× slower" when ours took longer. */
const faster = (ratio: number) => (ratio >= 1 ? `${times(ratio)} faster` : `${times(1 / ratio)} slower`);
const gbps = (value: number) => `${value.toFixed(2)} GB/s`;

/**
 * Targets that only mean something at the issue's sizes are judged only there; a quick run says
 * `n/a` for them and shows its figures all the same.
 */
function judge(ok: boolean, quick: boolean, sizeDependent = true): Verdict {
  if (quick && sizeDependent) return 'n/a';
  return ok ? 'met' : 'not met';
}

function missing(row: string, target: string, input: unknown, what: string): Row | undefined {
  if (input === undefined) return { row, figure: NONE, baseline: NONE, ratio: NONE, target, verdict: 'skipped', note: `${what} not run` };
  if (isFailure(input)) return { row, figure: NONE, baseline: NONE, ratio: NONE, target, verdict: 'failed', note: input.error };
  return undefined;
}

export function buildRows(inputs: SuiteInputs): Row[] {
  const { quick } = inputs;
  const rows: Row[] = [];
  // In the issue's order, where the downloads row comes after the side-by-side ones.
  let downloads: Row | undefined;

  // -- the engine at scale (bench/scale.ts, under ulimit -n)
  {
    const engine = inputs.engine;
    const files = engine && !isFailure(engine) ? engine.files : FULL_SIZES.engineFiles;
    const rerunRow = `engine, no-change rerun, ${n(files)} files`;
    const rerunTarget = '≤ 3 s, ≤ 400 MB peak RSS';
    const coldRow = `engine, cold, ${n(files)} files at ulimit -n ${engine && !isFailure(engine) ? engine.openFiles : 1024}`;
    const coldTarget = 'completes in one run';
    const none = missing(rerunRow, rerunTarget, engine, 'bench/scale.ts');
    if (none || !engine || isFailure(engine)) {
      rows.push(none as Row, previewsRerunRow(inputs.enginePreviews, quick), { ...(missing(coldRow, coldTarget, engine, 'bench/scale.ts') as Row) });
    } else {
      const rerun = engine.rerun;
      rows.push(
        rerun
          ? {
              row: rerunRow,
              figure: `${s(rerun.seconds)}, ${n(rerun.maxRssMB)} MB`,
              baseline: NONE,
              ratio: NONE,
              target: rerunTarget,
              verdict: judge(rerun.seconds <= 3 && rerun.maxRssMB <= 400, quick),
              ...(rerun.sidecarReads !== undefined ? { note: `${n(rerun.sidecarReads)} sidecars read${rerun.medianOf ? `; median of ${rerun.medianOf} reruns, highest peak` : ''}` } : {}),
            }
          : { row: rerunRow, figure: NONE, baseline: NONE, ratio: NONE, target: rerunTarget, verdict: 'failed', note: 'no rerun line in the output' },
      );
      rows.push(previewsRerunRow(inputs.enginePreviews, quick));
      const first = engine.first;
      const complete = first.records === files && (first.hashedFiles === undefined || first.hashedFiles === files);
      rows.push({
        row: coldRow,
        figure: `${complete ? 'yes' : 'no'}, ${s(first.seconds)}, ${n(first.maxRssMB)} MB`,
        baseline: NONE,
        ratio: NONE,
        target: coldTarget,
        verdict: judge(complete, quick, false),
        note: `records ${first.records ?? '?'}/${n(files)}, hashed ${first.hashedFiles ?? '?'}/${n(files)}, sidecar files written ${first.written ?? '?'}`,
      });
    }
  }

  // -- first runs with previews (bench/cdn.ts at two sizes)
  {
    const small = inputs.previewsSmall;
    const large = inputs.previewsLarge;
    const largeFiles = large && !isFailure(large) ? large.files : FULL_SIZES.previewsLarge;
    const row = `engine, cold, ${n(largeFiles)} files with previews`;
    const target = '≤ 60 s, linear (s per 1,000 within 1.2× of the small run’s)';
    const none = missing(row, target, large, 'bench/cdn.ts (large)') ?? missing(row, target, small, 'bench/cdn.ts (small)');
    if (none) rows.push(none);
    else {
      const l = large as CdnFigures;
      const sm = small as CdnFigures;
      const growth = l.secondsPer1000 / sm.secondsPer1000;
      rows.push({
        row,
        figure: `${s(l.seconds)} (${s(l.secondsPer1000)} per 1,000)`,
        baseline: `${s(sm.secondsPer1000)} per 1,000 at ${n(sm.files)} files`,
        ratio: times(growth),
        target,
        verdict: judge(l.seconds <= 60 && growth <= 1.2 && l.failed === 0, quick),
        note: `${n(l.downloaded)} previews, ${l.failed} failed; CDN rate ${Math.round(l.cdnRate)}/s here, ${Math.round(sm.cdnRate)}/s at ${n(sm.files)} files; peak RSS ${n(Math.round(l.maxRssKB / 1024))} MB`,
      });
    }
    const cdnRow = `image downloads, default api.batch (rate_limit ${small && !isFailure(small) ? small.rateLimit : 100}/min)`;
    const cdnTarget = '≥ 100 previews/s from a local CDN, not paced by rate_limit';
    const noneCdn = missing(cdnRow, cdnTarget, small, 'bench/cdn.ts (small)');
    if (noneCdn) downloads = noneCdn;
    else {
      const sm = small as CdnFigures;
      const all = sm.downloaded === sm.identified * sm.previews && sm.failed === 0;
      // More previews than the budget allows in a minute, fetched in seconds: not paced by it.
      const unpaced = all && sm.downloaded > sm.rateLimit && sm.seconds < 60;
      downloads = {
        row: cdnRow,
        figure: `${Math.round(sm.cdnRate)} previews/s`,
        baseline: `${Math.round(sm.rawRate)}/s the CDN alone`,
        ratio: `${Math.round((sm.cdnRate / sm.rawRate) * 100)} %`,
        target: cdnTarget,
        verdict: sm.cdnRate >= 100 && unpaced ? 'met' : 'not met',
        note: `${n(sm.downloaded)} previews and ${sm.apiRequests} API requests in ${s(sm.seconds)}`,
      };
    }
  }

  // -- astro build against a bare Astro build of the same page count (bench/site.ts)
  {
    const site = inputs.site;
    const models = site && !isFailure(site) ? site.models : FULL_SIZES.siteModels;
    const warmRow = `astro build, warm, nothing changed, ${n(models)} models`;
    const coldRow = `astro build, cold, ${n(models)} models`;
    const noneWarm = missing(warmRow, '≤ 2× bare', site, 'bench/site.ts');
    if (noneWarm || !site || isFailure(site)) {
      rows.push(noneWarm as Row, missing(coldRow, '≤ 5× bare', site, 'bench/site.ts') as Row);
    } else {
      const warm = site.warm;
      rows.push(
        warm
          ? {
              row: warmRow,
              figure: s(warm.buildSeconds),
              baseline: `${s(site.bareWarm.buildSeconds)} bare`,
              ratio: `${times(warm.buildSeconds / site.bareWarm.buildSeconds)} bare`,
              target: '≤ 2× bare',
              verdict: judge(warm.buildSeconds <= 2 * site.bareWarm.buildSeconds, quick),
              ...(warm.peakRssMiB ? { note: `peak RSS ${n(warm.peakRssMiB)} MiB` } : {}),
            }
          : { row: warmRow, figure: NONE, baseline: NONE, ratio: NONE, target: '≤ 2× bare', verdict: 'skipped', note: 'warm build skipped' },
      );
      rows.push({
        row: coldRow,
        figure: s(site.cold.buildSeconds),
        baseline: `${s(site.bareCold.buildSeconds)} bare`,
        ratio: `${times(site.cold.buildSeconds / site.bareCold.buildSeconds)} bare`,
        target: '≤ 5× bare',
        verdict: judge(site.cold.buildSeconds <= 5 * site.bareCold.buildSeconds, quick),
        ...(site.cold.peakRssMiB ? { note: `peak RSS ${n(site.cold.peakRssMiB)} MiB` } : {}),
      });
    }
  }

  // -- side by side with the seed (bench/seed.ts, only with --seed DIR)
  {
    const seed = inputs.seed;
    const files = seed && !isFailure(seed) && !('skipped' in seed) ? seed.files : FULL_SIZES.seedFiles;
    const latency = seed && !isFailure(seed) && !('skipped' in seed) ? seed.latencyMs : 200;
    const specs = [
      { row: `side by side with the seed, ${n(files)} files, ${latency} ms API latency`, target: '≥ 10× faster', ms: latency, factor: 10 },
      { row: `the same at 0 ms latency`, target: '≥ 2× faster', ms: 0, factor: 2 },
    ];
    const warmRow = `rerun, nothing changed, vs the seed’s rerun, ${n(files)} files`;
    const skipped = seed && !isFailure(seed) && 'skipped' in seed ? seed.skipped : undefined;
    if (!seed || isFailure(seed) || skipped) {
      for (const spec of [...specs, { row: warmRow, target: 'faster than the seed' }]) {
        rows.push(
          skipped
            ? { row: spec.row, figure: NONE, baseline: NONE, ratio: NONE, target: spec.target, verdict: 'skipped', note: skipped }
            : (missing(spec.row, spec.target, seed, 'bench/seed.ts') as Row),
        );
      }
    } else if ('cold' in seed) {
      for (const spec of specs) {
        const run = seed.cold.find((entry) => entry.latencyMs === spec.ms);
        if (!run) {
          rows.push({ row: spec.row, figure: NONE, baseline: NONE, ratio: NONE, target: spec.target, verdict: 'skipped', note: `no run at ${spec.ms} ms` });
          continue;
        }
        const ok = run.ours.exit === 0 && run.seed.exit === 0;
        const speedup = run.seed.seconds / run.ours.seconds;
        rows.push({
          row: spec.row,
          figure: s(run.ours.seconds),
          baseline: `${s(run.seed.seconds)} the seed`,
          ratio: faster(speedup),
          target: spec.target,
          verdict: ok ? judge(speedup >= spec.factor, quick) : 'failed',
          note: `exit ours ${run.ours.exit}, seed ${run.seed.exit}; JSON sidecars ${run.ours.sidecars ?? '?'} / ${run.seed.sidecars ?? '?'}`,
        });
      }
      const speedup = seed.warm.seed / seed.warm.ours;
      rows.push({
        row: warmRow,
        figure: `${s(seed.warm.ours)} (median)`,
        baseline: `${s(seed.warm.seed)} the seed`,
        ratio: faster(speedup),
        target: 'faster than the seed',
        verdict: judge(speedup > 1, quick),
        ...(seed.warm.runs ? { note: `median of ${seed.warm.runs.ours.length}` } : {}),
      });
    }
  }

  rows.push(downloads as Row);

  // -- hashing (bench/hash.ts)
  {
    const hash = inputs.hash;
    const row = 'hashing, default scanner.hash_types';
    const target = '≥ 85 % of cores × OpenSSL SHA-256 (1 core)';
    const progressRow = 'hashing progress on one large file';
    const progressTarget = 'a byte count at least every 0.5 s';
    const none = missing(row, target, hash, 'bench/hash.ts');
    if (none || !hash || isFailure(hash)) {
      rows.push(none as Row, missing(progressRow, progressTarget, hash, 'bench/hash.ts') as Row);
    } else {
      const ceiling = hash.ceiling;
      rows.push({
        row,
        figure: gbps(hash.poolDefault),
        baseline: ceiling ? `${gbps(ceiling)} (${hash.cores} × ${gbps(hash.opensslCore ?? 0)})` : 'openssl not installed',
        ratio: ceiling ? `${Math.round((hash.poolDefault / ceiling) * 100)} %` : NONE,
        target,
        verdict: ceiling ? (hash.poolDefault >= 0.85 * ceiling ? 'met' : 'not met') : 'n/a',
        note:
          hash.defaultTypes.join(', ') +
          (hash.readCeiling && hash.copyCore
            ? `; ${Math.round((hash.poolDefault / hash.readCeiling) * 100)} % of ${gbps(hash.readCeiling)}, OpenSSL with the kernel's copy into our buffers (${gbps(hash.copyCore)} a core) added`
            : ''),
      });
      const progress = hash.progress;
      rows.push(
        progress
          ? {
              row: `${progressRow} (${(progress.bytes / 1024 ** 3).toFixed(0)} GiB)`,
              figure: `${progress.maxGapSeconds.toFixed(2)} s longest interval`,
              baseline: `${s(progress.seconds)} the whole file`,
              ratio: `${Math.round((progress.maxGapSeconds / progress.seconds) * 100)} %`,
              target: progressTarget,
              verdict: progress.maxGapSeconds <= 0.5 ? 'met' : 'not met',
              note: `${n(progress.updates)} byte counts`,
            }
          : { row: progressRow, figure: NONE, baseline: NONE, ratio: NONE, target: progressTarget, verdict: 'skipped', note: '--progress-gb 0' },
      );
    }
  }
  return rows;
}

/** bench/scale.ts prints one line per run: `first run  12.34 s  peak RSS  567 MB  sidecar reads …`. */
export function parseScaleOutput(lines: readonly string[], files: number, openFiles: number): ScaleFigures | undefined {
  const runs = new Map<string, ScaleRun>();
  for (const line of lines) {
    const match = /^(first run|no-change rerun)\s+([\d.]+) s\s+peak RSS\s+(\d+) MB(.*)$/.exec(line.trim());
    if (!match) continue;
    const rest = match[4] ?? '';
    const count = (pattern: RegExp) => {
      const found = pattern.exec(rest);
      return found ? Number(found[1]) : undefined;
    };
    const run: ScaleRun = { seconds: Number(match[2]), maxRssMB: Number(match[3]) };
    const reads = count(/sidecar reads (-?\d+)/);
    const written = count(/written (\d+)/);
    const hashed = count(/hashed (\d+) files/);
    const records = count(/records (\d+)/);
    const medianOf = count(/median of (\d+)/);
    if (medianOf !== undefined) run.medianOf = medianOf;
    if (reads !== undefined && reads >= 0) run.sidecarReads = reads;
    if (written !== undefined) run.written = written;
    if (hashed !== undefined) run.hashedFiles = hashed;
    if (records !== undefined) run.records = records;
    runs.set(match[1] as string, run);
  }
  const first = runs.get('first run');
  if (!first) return undefined;
  const rerun = runs.get('no-change rerun');
  return { files, openFiles, first, ...(rerun ? { rerun } : {}) };
}

/** The no-change rerun of a library whose models have 2 previews each (the issue's conditions). */
function previewsRerunRow(figures: ScaleFigures | Failure | undefined, quick: boolean): Row {
  const files = figures && !isFailure(figures) ? figures.files : FULL_SIZES.engineFiles;
  const previews = figures && !isFailure(figures) ? (figures.previews ?? 2) : 2;
  const row = `engine, no-change rerun, ${n(files)} files with ${previews} previews each`;
  const target = '≤ 3 s, ≤ 400 MB peak RSS';
  const none = missing(row, target, figures, 'bench/scale.ts --previews 2');
  if (none || !figures || isFailure(figures)) return none as Row;
  const rerun = figures.rerun;
  if (!rerun) return { row, figure: NONE, baseline: NONE, ratio: NONE, target, verdict: 'failed', note: 'no rerun line in the output' };
  return {
    row,
    figure: `${s(rerun.seconds)}, ${n(rerun.maxRssMB)} MB`,
    baseline: NONE,
    ratio: NONE,
    target,
    verdict: judge(rerun.seconds <= 3 && rerun.maxRssMB <= 400, quick),
    note: `as the issue measured it${rerun.sidecarReads !== undefined ? `; ${n(rerun.sidecarReads)} sidecars read` : ''}${rerun.medianOf ? `; median of ${rerun.medianOf} reruns, highest peak` : ''}`,
  };
}

/** A Markdown table (it goes into the README as it is). */
export function formatTable(rows: readonly Row[]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const lines = [
    '| | figure | baseline (same run) | ratio | target | |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${cell(r.row)} | ${cell(r.figure)} | ${cell(r.baseline)} | ${cell(r.ratio)} | ${cell(r.target)} | ${r.verdict}${r.note ? ` (${cell(r.note)})` : ''} |`),
  ];
  return lines.join('\n');
}
