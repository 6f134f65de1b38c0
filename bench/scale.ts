/**
 * `node bench/scale.ts [--files N] [--previews N] [--reruns N] [--dir PATH] [--stages]` — the engine on a generated library of N tiny
 * safetensors files (default 50,000, in folders of 500, mtimes an hour old): a first run
 * (everything hashed, identified, written), then N no-change reruns (default 3; the figure is
 * their median, with the highest peak RSS of them). Each run is its own child
 * process, so its peak RSS is its own. CivitAI is a client made inside the child (every hash is a
 * version of its own, with a realistic body from the fake's fixtures; about 2 versions per model):
 * this measures the engine, not HTTP. `--previews N` (default 0) saves N previews per model, as
 * tiny JPEGs the same client hands out, each image with the generation parameters its fixture
 * has. Prints seconds, peak RSS, sidecar reads and writes;
 * `--stages` adds a line per run with its CPU seconds and the seconds (and heap) of each stage.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '50000' },
    previews: { type: 'string', default: '0' },
    dir: { type: 'string' },
    /** No-change reruns after the first run; the figure is their median. */
    reruns: { type: 'string', default: '3' },
    child: { type: 'string' },
    keep: { type: 'boolean', default: false },
    /** Also print where each run spent its time, stage by stage. */
    stages: { type: 'boolean', default: false },
  },
});

if (args.child) {
  await child(args.child);
} else {
  await parent();
}

async function parent(): Promise<void> {
  const count = Math.max(1, Number(args.files));
  const previews = Math.max(0, Number(args.previews));
  const root = await mkdtemp(path.join(args.dir ?? tmpdir(), 'civitscraper-scale-'));
  try {
    console.log(`CivitScraper scale benchmark — Node ${process.version}, ${availableParallelism()} cores, ${count} files, ${previews} previews each`);
    const started = performance.now();
    await generate(root, count, previews);
    console.log(`library written in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const rows: string[] = [];
    const stageRows: string[] = [];
    const runChild = (label: string): Record<string, number> => {
      const result = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', root], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, CIVITSCRAPER_SCALE_FILES: String(count), CIVITSCRAPER_SCALE_PREVIEWS: String(previews) },
      });
      if (result.status !== 0) {
        process.stderr.write(result.stderr);
        throw new Error(`${label} failed (exit ${result.status})`);
      }
      const figures = JSON.parse(result.stdout.trim().split('\n').at(-1) as string) as Record<string, number>;
      if (args.stages) stageRows.push(`${label.padEnd(16)} cpu ${figures.cpuSeconds?.toFixed(2)} s; ${(figures as unknown as { stages?: string }).stages ?? ''}`);
      return figures;
    };
    const line = (label: string, figures: Record<string, number>, rssKB: number, extra = '') =>
      `${label.padEnd(16)} ${String(figures.seconds?.toFixed(2)).padStart(7)} s  peak RSS ${String(Math.round(rssKB / 1024)).padStart(5)} MB  ` +
      `sidecar reads ${figures.sidecarReads}  sidecar files written ${figures.written}  hashed ${figures.hashedFiles} files  records ${figures.records}` +
      (previews > 0 ? `  previews downloaded ${figures.previewsDownloaded}` : '') +
      extra;
    const first = runChild('first run');
    rows.push(line('first run', first, first.maxRssKB ?? 0));
    // The first run's 100,000 new files on disk before the reruns, as a rerun an hour later finds
    // them: while the kernel still wrote them back, it slowed the rerun down.
    spawnSync('sync');
    const reruns = Array.from({ length: Math.max(1, Number(args.reruns)) }, (_, index) => runChild(`rerun ${index + 1}`));
    const bySeconds = [...reruns].sort((a, b) => (a.seconds ?? 0) - (b.seconds ?? 0));
    const median = bySeconds[Math.floor((bySeconds.length - 1) / 2)] as Record<string, number>;
    // The median run's seconds, the highest peak of them all.
    const peak = Math.max(...reruns.map((run) => run.maxRssKB ?? 0));
    const all = reruns.map((run) => run.seconds?.toFixed(2)).join(', ');
    rows.push(line('no-change rerun', median, peak, reruns.length > 1 ? `  median of ${reruns.length}: ${all} s` : ''));
    for (const row of rows) console.log(row);
    for (const row of stageRows) console.log(row);
  } finally {
    if (!args.keep) await rm(root, { recursive: true, force: true });
  }
}

async function generate(root: string, count: number, previews: number): Promise<void> {
  const library = path.join(root, 'library');
  const old = new Date(Date.now() - 3600_000);
  const jobs = Array.from({ length: count }, (_, index) => index);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next;
      next += 1;
      const folder = path.join(library, `shelf-${Math.floor(index / 500)}`);
      const file = path.join(folder, `model-${index}.safetensors`);
      await writeFile(file, tinySafetensors(index));
      await utimes(file, old, old);
    }
  };
  for (let shelf = 0; shelf * 500 < count; shelf += 1) await mkdir(path.join(library, `shelf-${shelf}`), { recursive: true });
  await Promise.all(Array.from({ length: 32 }, worker));
  await writeFile(
    path.join(root, 'civitscraper.yaml'),
    stringify({
      input_paths: { models: { path: library, type: 'LORA' } },
      jobs: { scan: { type: 'scan-paths', output: { images: previews > 0 ? { save: true, max_count: previews } : { save: false } } } },
      scanner: { cache_dir: path.join(root, '.cache') },
    }),
  );
}

async function tinyJpeg(): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  return sharp({ create: { width: 16, height: 16, channels: 3, background: '#7a8' } }).jpeg().toBuffer();
}

function tinySafetensors(seed: number): Buffer {
  const data = Buffer.from(`tensor ${seed} `.repeat(8));
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'U8', shape: [data.length], data_offsets: [0, data.length] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, data]);
}

async function child(root: string): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const { parseConfig, selectJobs } = await import('../src/integration/engine/config/index.ts');
  const { runScanJob } = await import('../src/integration/engine/run.ts');
  const { withYoungGenerationHeld } = await import('../src/integration/engine/util/young-generation.ts');
  const metadata = (await import('../src/integration/engine/sidecars/metadata.ts')) as { sidecarReadStats?: { reads: number } };
  const { inProcessCivitai } = await import('../src/dev/fake-civitai/in-process.ts');
  const file = path.join(root, 'civitscraper.yaml');
  const { config } = parseConfig(await readFile(file, 'utf8'), file);
  const [selected] = selectJobs(config, {});
  const fileCount = Number(process.env.CIVITSCRAPER_SCALE_FILES ?? 50000);
  // About 2 versions per model.
  const previews = Number(process.env.CIVITSCRAPER_SCALE_PREVIEWS ?? 0);
  const image = previews > 0 ? await tinyJpeg() : undefined;
  const client = inProcessCivitai({
    templates: 50,
    allHashes: true,
    modelIdOf: (id) => (id % Math.max(1, Math.ceil(fileCount / 2))) + 1,
    ...(image ? { image } : {}),
  });
  let stages = '';
  const quiet = () => undefined;
  const logger = { debug: (message: string) => void (message.startsWith('stages: ') && (stages = message.slice(8))), info: quiet, warn: quiet, error: quiet };
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  // As `civitscraper scan` runs it (cli/jobs.ts): with V8's young generation held.
  const run = () => runScanJob({ config, job: selected?.job as never, jobName: selected?.name ?? 'scan', client: client as never, logger });
  const result = process.env.CIVITSCRAPER_SCALE_YOUNG === 'grow' ? await run() : await withYoungGenerationHeld(run);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  console.log(
    JSON.stringify({
      seconds,
      /** Main thread and workers, user and system: steadier than `seconds` on a busy machine. */
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      maxRssKB: process.resourceUsage().maxRSS,
      sidecarReads: metadata.sidecarReadStats?.reads ?? -1,
      written: result.report.sidecars.written,
      hashedFiles: result.report.hash.files,
      previewsDownloaded: result.report.images.downloaded,
      records: result.records.length,
      stages,
    }),
  );
}
