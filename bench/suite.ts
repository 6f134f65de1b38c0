/**
 * The scale suite (`npm run bench`): every row of issue #14's table measured in one run, each
 * beside the baseline measured in the same run, printed as one table (figure, baseline, ratio,
 * target, met or not). Each measurement is a bench of its own, run as a child process:
 *
 *   bench/scale.ts  the engine at 50,500 files under `ulimit -n 1024`: first run, no-change reruns (median of 3);
 *                   then the same with 2 previews per model, as the issue measured the rerun
 *   bench/cdn.ts    first runs with previews at 1,010 files (default API settings: the CDN rate
 *                   against the CDN alone) and at 10,100 (seconds per 1,000 against the 1,010 run)
 *   bench/site.ts   astro build of 5,000 models, cold and warm, against a bare Astro build of the
 *                   same page count
 *   bench/seed.ts   the seed's CivitScraper side by side, 105 files, 200 ms and 0 ms API latency,
 *                   and reruns with nothing changed (only with `--seed DIR`; skipped with a note)
 *   bench/hash.ts   the default hash types against cores × OpenSSL, progress on one large file
 *
 * Options: --quick (small sizes: a smoke run of the whole table in a few minutes; size-bound
 * targets then read n/a), --seed DIR (a checkout of the seed), --only a,b (of engine, previews,
 * site, seed, hash), --dir PATH (where the libraries go; default the system temp folder),
 * --json FILE (the rows and every bench's figures). Run it on a quiet machine: the figures are
 * wall-clock.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem, type as osType } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildRows, formatTable, FULL_SIZES, parseScaleOutput, type Failure, type SuiteInputs } from './suite-table.ts';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const PARTS = ['engine', 'previews', 'site', 'seed', 'hash'] as const;
type Part = (typeof PARTS)[number];
const OPEN_FILES = 1024;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seed: { type: 'string' },
    only: { type: 'string' },
    dir: { type: 'string' },
    json: { type: 'string' },
  },
});

const quick = args.quick ?? false;
const sizes = quick
  ? { engineFiles: 2_020, previewsSmall: 101, previewsLarge: 505, siteModels: 100, seedFiles: 21, seedReruns: 2, hashGb: 0.3, hashRepeat: 1, progressGb: 1 }
  : { ...FULL_SIZES, seedReruns: 5, hashGb: 3, hashRepeat: 3, progressGb: 8 };
const only = new Set<Part>((args.only ? args.only.split(',') : PARTS).map((part) => part.trim() as Part));
for (const part of only) if (!PARTS.includes(part)) throw new Error(`--only: unknown part "${part}" (one of ${PARTS.join(', ')})`);

interface ChildResult {
  code: number;
  lines: string[];
  bench?: unknown;
  tail: string;
}

/** Runs one bench, its lines shown as they come, and returns its `@@BENCH` figures. */
function runChild(label: string, command: string, argv: string[]): Promise<ChildResult> {
  console.log(`\n=== ${label}: ${[path.basename(command), ...argv.map((arg) => path.relative(ROOT, arg) || arg)].join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(command, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    const lines: string[] = [];
    const errors: string[] = [];
    const split = (sink: string[], echo: (line: string) => void) => {
      let rest = '';
      return (chunk: Buffer) => {
        const text = rest + chunk.toString('utf8');
        const parts = text.split('\n');
        rest = parts.pop() ?? '';
        for (const line of parts) {
          sink.push(line);
          if (!line.startsWith('@@BENCH ')) echo(line);
        }
      };
    };
    child.stdout.on('data', split(lines, (line) => console.log(`  ${line}`)));
    child.stderr.on('data', split(errors, (line) => console.log(`  ! ${line}`)));
    child.on('close', (code) => {
      const benchLine = lines.findLast((line) => line.startsWith('@@BENCH '));
      let bench: unknown;
      try {
        bench = benchLine ? JSON.parse(benchLine.slice(8)) : undefined;
      } catch {
        bench = undefined;
      }
      resolve({ code: code ?? 1, lines, bench, tail: errors.filter(Boolean).at(-1) ?? lines.filter(Boolean).at(-1) ?? '' });
    });
  });
}

function failure(result: ChildResult, what: string): Failure {
  return { error: `${what} exited ${result.code}${result.tail ? `: ${result.tail.slice(0, 160)}` : ''}` };
}

function machine(): string[] {
  let commit = 'unknown commit';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (dirty) commit += ' with local changes';
  } catch {
    // not a git checkout: the commit stays unknown
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return [
    `machine: ${availableParallelism()} cores (${cpu}), ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, ${osType()} ${release()}; Node ${process.version}; ${commit}`,
  ];
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(args.dir ?? tmpdir(), 'civitscraper-suite-'));
  const node = process.execPath;
  const bench = (name: string) => path.join(ROOT, 'bench', name);
  const inputs: SuiteInputs = { quick };
  const figures: Record<string, unknown> = {};
  const loadStart = loadavg()[0] ?? 0;
  const cpuStart = hostCpuTimes();
  const started = performance.now();
  console.log(`CivitScraper scale suite${quick ? ' (--quick: small sizes, size-bound targets read n/a)' : ''}`);
  for (const line of machine()) console.log(line);
  try {
    if (only.has('engine')) {
      // The limit is set by the shell that then becomes the bench, so the engine's runs (its
      // children) inherit it.
      const result = await runChild('engine at scale', '/bin/sh', [
        '-c',
        'ulimit -n "$1" && shift && exec "$@"',
        'sh',
        String(OPEN_FILES),
        node,
        bench('scale.ts'),
        '--files',
        String(sizes.engineFiles),
        '--dir',
        work,
      ]);
      const parsed = parseScaleOutput(result.lines, sizes.engineFiles, OPEN_FILES);
      inputs.engine = parsed ?? failure(result, 'bench/scale.ts');
      figures.engine = parsed ?? result.tail;
      // As the issue measured its rerun: 2 previews per model (and their generation parameters).
      const withPreviews = await runChild('engine at scale, 2 previews per model', node, [bench('scale.ts'), '--files', String(sizes.engineFiles), '--previews', '2', '--dir', work]);
      const parsedPreviews = parseScaleOutput(withPreviews.lines, sizes.engineFiles, OPEN_FILES);
      inputs.enginePreviews = parsedPreviews ? { ...parsedPreviews, previews: 2 } : failure(withPreviews, 'bench/scale.ts --previews 2');
      figures.enginePreviews = parsedPreviews ?? withPreviews.tail;
    }
    if (only.has('previews')) {
      const small = await runChild('first run with previews, default API settings', node, [bench('cdn.ts'), '--files', String(sizes.previewsSmall), '--dir', work]);
      inputs.previewsSmall = (small.code === 0 && (small.bench as SuiteInputs['previewsSmall'])) || failure(small, 'bench/cdn.ts');
      // The large run sends 202 API requests: an unlimited budget keeps it measuring the engine.
      const large = await runChild('first run with previews, large', node, [bench('cdn.ts'), '--files', String(sizes.previewsLarge), '--rate-limit', '1000000', '--dir', work]);
      inputs.previewsLarge = (large.code === 0 && (large.bench as SuiteInputs['previewsLarge'])) || failure(large, 'bench/cdn.ts');
      figures.previews = { small: small.bench, large: large.bench };
    }
    if (only.has('site')) {
      const result = await runChild('astro build beside a bare Astro build', node, [bench('site.ts'), '--models', String(sizes.siteModels), '--no-browser', '--dir', path.join(work, 'site')]);
      await rm(path.join(work, 'site'), { recursive: true, force: true });
      inputs.site = (result.code === 0 && (result.bench as SuiteInputs['site'])) || failure(result, 'bench/site.ts');
      figures.site = result.bench;
    }
    if (only.has('seed')) {
      if (!args.seed) {
        inputs.seed = { skipped: 'run with --seed DIR (a checkout of the seed’s CivitScraper) to measure it' };
      } else {
        const result = await runChild('side by side with the seed', node, [
          bench('seed.ts'),
          '--seed',
          path.resolve(args.seed),
          '--files',
          String(sizes.seedFiles),
          '--latency',
          '200',
          '--reruns',
          String(sizes.seedReruns),
          '--dir',
          work,
        ]);
        inputs.seed = (result.code === 0 && (result.bench as SuiteInputs['seed'])) || failure(result, 'bench/seed.ts');
        figures.seed = result.bench;
      }
    }
    if (only.has('hash')) {
      const result = await runChild('hashing', node, [
        bench('hash.ts'),
        '--size-gb',
        String(sizes.hashGb),
        '--repeat',
        String(sizes.hashRepeat),
        '--progress-gb',
        String(sizes.progressGb),
        '--dir',
        work,
      ]);
      inputs.hash = (result.code === 0 && (result.bench as SuiteInputs['hash'])) || failure(result, 'bench/hash.ts');
      figures.hash = result.bench;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const rows = buildRows(inputs);
  const loadEnd = loadavg()[0] ?? 0;
  console.log(`\n## Scale suite${quick ? ' (--quick)' : ''}\n`);
  for (const line of machine()) console.log(line);
  const steal = stolenShare(cpuStart, hostCpuTimes());
  console.log(
    `load average ${loadStart.toFixed(1)} at the start, ${loadEnd.toFixed(1)} at the end; ${((performance.now() - started) / 60_000).toFixed(1)} min in all` +
      `${steal === undefined ? '' : `; the host took ${Math.round(steal * 100)} % of this machine's CPU time meanwhile ("steal")`}\n`,
  );
  console.log(formatTable(rows.filter((row) => only.has(partOf(row.row)))));
  if (Math.max(loadStart, loadEnd) > availableParallelism() * 0.75) {
    console.log('\nnote: the machine was busy; wall-clock figures are low. Run again on an idle machine.');
  }
  if (steal !== undefined && steal > 0.05) {
    console.log(`\nnote: a virtual machine whose host took ${Math.round(steal * 100)} % of its CPU time: every wall-clock figure above is that much slower than the machine is.`);
  }
  if (args.json) await writeFile(path.resolve(args.json), `${JSON.stringify({ quick, sizes, rows, figures, ...(steal !== undefined ? { steal } : {}) }, null, 2)}\n`);
  if (rows.some((row) => row.verdict === 'failed')) process.exitCode = 1;
}

/**
 * The machine's CPU time so far by kind (Linux `/proc/stat`, in clock ticks): `steal` is time a
 * virtual machine's host gave to other guests while this one had work. Undefined elsewhere.
 */
function hostCpuTimes(): { total: number; steal: number } | undefined {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    if (fields.length < 8 || fields.some((value) => !Number.isFinite(value))) return undefined;
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user and nice]
    const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
    return { total, steal: fields[7] as number };
  } catch {
    return undefined;
  }
}

function stolenShare(before: ReturnType<typeof hostCpuTimes>, after: ReturnType<typeof hostCpuTimes>): number | undefined {
  if (!before || !after || after.total <= before.total) return undefined;
  return (after.steal - before.steal) / (after.total - before.total);
}

/** Which part of the suite a row belongs to (`--only` prints just those rows). */
function partOf(row: string): Part {
  if (row.startsWith('engine, cold,') && row.includes('previews')) return 'previews';
  if (row.startsWith('image downloads')) return 'previews';
  if (row.startsWith('engine')) return 'engine';
  if (row.startsWith('astro build')) return 'site';
  if (row.startsWith('hashing')) return 'hash';
  return 'seed';
}

if (import.meta.main) await main();
