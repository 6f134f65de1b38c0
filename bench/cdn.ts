/**
 * `node bench/cdn.ts [--files N] [--previews 2] [--rate-limit R] [--dir PATH] [--keep]` — the
 * engine's first run over N identified model files with previews, against the fake CivitAI on
 * 127.0.0.1 (API and image CDN, in this process; the run is a child process of its own, so its
 * seconds and peak RSS are its own). Prints the run's seconds, seconds per 1,000 files, and the
 * CDN rate: previews per second from the first download's start to the last one's end.
 *
 * Beside it, in the same child after the run: the same preview URLs fetched again through the
 * HTTP layer alone, as many at once as the preview stage asks for (`api.batch.max_concurrent`),
 * nothing written — what this CDN gives on this machine, the baseline of the CDN rate.
 *
 * The API settings are the defaults (`api.batch.rate_limit: 100` a minute) unless
 * `--rate-limit` says otherwise: a run of 1,010 files sends 22 API requests and 2,020 previews,
 * so a CDN held to the API's budget would show at once. The previews come from a pool of 64
 * pictures (every URL distinct), which the fake renders before the run.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { stringify } from 'yaml';
import { writeCdnLibrary } from './cdn-library.ts';

/** The preview width asked of the CDN (a small rendition: this measures downloads, not bytes). */
const WIDTH = 96;
const PICTURES = 64;

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '1010' },
    previews: { type: 'string', default: '2' },
    'rate-limit': { type: 'string' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});

export interface CdnBenchResult {
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
  /** Previews a second in the run: from the first download's start to the last one's end. */
  cdnRate: number;
  /** The same URLs through the HTTP layer alone, as many at once, nothing written. */
  rawRate: number;
  /** The run's own CPU seconds (user + system, the child process, the fake not included). */
  cpuSeconds: number;
  /** Seconds per stage, as the run's debug line has them (`images 4.20 s [120 MB], …`). */
  stages: string;
}

if (args.child) await child(args.child);
else await parent();

async function parent(): Promise<void> {
  const files = Math.max(1, Number(args.files));
  const previews = Math.max(1, Number(args.previews));
  const root = await mkdtemp(path.join(args.dir ?? tmpdir(), 'civitscraper-cdn-'));
  const { startFakeCivitai } = await import('../src/dev/fake-civitai/index.ts');
  const { cdnRendition } = await import('../src/integration/engine/media/cdn.ts');
  try {
    console.log(`CivitScraper CDN benchmark — Node ${process.version}, ${availableParallelism()} cores, ${files} files × ${previews} previews`);
    const library = await writeCdnLibrary(root, { models: files, previews, pictures: PICTURES });
    const fake = await startFakeCivitai({ fixturesDir: library.fixturesDir, bindings: library.bindings });
    try {
      // Each picture rendered once before the clock starts: the fake's renderer is not the CDN.
      for (const url of library.imageUrls.slice(0, PICTURES)) {
        const response = await fetch(cdnRendition(fake.cdnUrl(url), { width: WIDTH }));
        if (!response.ok) throw new Error(`the fake CDN answered ${response.status} for ${url}`);
        await response.arrayBuffer();
      }
      await writeFile(
        path.join(root, 'civitscraper.yaml'),
        stringify({
          api: { base_url: fake.apiBaseUrl, ...(args['rate-limit'] ? { batch: { rate_limit: Number(args['rate-limit']) } } : {}) },
          input_paths: { models: { path: library.libraryDir, type: 'LORA' } },
          jobs: { scan: { type: 'scan-paths', output: { images: { max_count: previews, width: WIDTH } } } },
          scanner: { cache_dir: path.join(root, '.cache') },
        }),
      );
      // Not spawnSync: the fake answers from this process's event loop.
      const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url), '--child', root], { maxBuffer: 64 * 1024 * 1024 });
      const line = stdout.split('\n').find((text) => text.startsWith('@@CHILD '));
      const figures = { files, previews, ...(JSON.parse(line?.slice(8) ?? '{}') as Omit<CdnBenchResult, 'files' | 'previews'>) };
      console.log(
        `first run with previews  ${figures.seconds.toFixed(2)} s (${figures.secondsPer1000.toFixed(2)} s per 1,000 files), peak RSS ${Math.round(figures.maxRssKB / 1024)} MB, ` +
          `${figures.identified}/${figures.records} identified, ${figures.downloaded} previews downloaded, ${figures.failed} failed, ${figures.apiRequests} API requests (rate_limit ${figures.rateLimit}/min)`,
      );
      console.log(`CPU in the run            ${figures.cpuSeconds.toFixed(2)} s (user + system)`);
      console.log(`stages                    ${figures.stages}`);
      console.log(`CDN rate in the run       ${Math.round(figures.cdnRate)} previews/s`);
      console.log(`the CDN alone             ${Math.round(figures.rawRate)} previews/s (the same URLs, as many at once, nothing written)`);
      console.log(`@@BENCH ${JSON.stringify(figures)}`);
    } finally {
      await fake.close();
    }
  } finally {
    if (!args.keep) await rm(root, { recursive: true, force: true });
    else console.log(`kept: ${root}`);
  }
}

async function child(root: string): Promise<void> {
  const { parseConfig, selectJobs } = await import('../src/integration/engine/config/index.ts');
  const { runScanJob } = await import('../src/integration/engine/run.ts');
  const { createCivitaiClient } = await import('../src/integration/engine/civitai/client.ts');
  const { mapLimit } = await import('../src/integration/engine/util/map-limit.ts');
  const file = path.join(root, 'civitscraper.yaml');
  const { config } = parseConfig(await readFile(file, 'utf8'), file);
  const [selected] = selectJobs(config, {});
  const inner = createCivitaiClient(config.api);
  const urls: string[] = [];
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  const client = {
    ...inner,
    stats: inner.stats,
    async download(url: string) {
      first = Math.min(first, performance.now());
      try {
        return await inner.download(url);
      } finally {
        last = performance.now();
        urls.push(url);
      }
    },
  };
  let stages = '';
  const logger = {
    debug: (message: string) => {
      if (message.startsWith('stages: ')) stages = message.slice(8);
    },
    info: () => {},
    warn: () => {},
    error: () => {},
  };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await runScanJob({ config, job: selected?.job as never, jobName: selected?.name ?? 'scan', client, logger });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const maxRssKB = process.resourceUsage().maxRSS;

  const raw = createCivitaiClient(config.api);
  const rawStarted = performance.now();
  await mapLimit(urls, config.api.batch.max_concurrent, async (url) => {
    await raw.download(url);
  });
  const rawSeconds = (performance.now() - rawStarted) / 1000;
  const files = result.records.length;
  const figures = {
    rateLimit: config.api.batch.rate_limit,
    seconds,
    secondsPer1000: seconds / (Math.max(1, files) / 1000),
    maxRssKB,
    records: files,
    identified: result.records.filter((record) => record.civitai.status === 'identified').length,
    downloaded: result.report.images.downloaded,
    failed: result.report.images.failed,
    apiRequests: inner.stats.apiRequests,
    cdnRate: urls.length > 0 && last > first ? urls.length / ((last - first) / 1000) : 0,
    rawRate: urls.length > 0 && rawSeconds > 0 ? urls.length / rawSeconds : 0,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    stages,
  };
  console.log(`@@CHILD ${JSON.stringify(figures)}`);
}
