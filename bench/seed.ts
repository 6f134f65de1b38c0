/**
 * `node bench/seed.ts --seed DIR [--files 105] [--latency 200] [--reruns 5] [--dir PATH] [--keep]`
 * — this tool and the seed's CivitScraper side by side on the same library, the same YAML and
 * the same fake CivitAI (127.0.0.1, in this process), each run a process of its own:
 *
 * - a first run at `--latency` ms on every API request (the CDN answers at once), then one at 0 ms;
 * - after the 0 ms first run, `--reruns` runs with nothing changed (the median is reported).
 *
 * DIR is a checkout of the seed (github.com/moonwhaler/CivitScraper); it runs as its README says
 * (`civitscraper -c FILE`, here `python3 -m civitscraper.cli -c FILE` with DIR on PYTHONPATH), with
 * python3 and its requirements (requests, pyyaml, jinja2; blake3 is optional). Nothing of it is
 * copied. Ours runs as the installed command does (`bin/civitscraper.mjs`, so `npm run compile`
 * first). The library: `--files` tiny model files, all but 5 identified, 2 previews each; the
 * YAML is in the seed's vocabulary (JSON sidecars and previews, no HTML, no organization), with a
 * rate limit neither reaches, so the figures compare the tools' work rather than a budget.
 * The last line, `@@BENCH {…}`, has the figures for `npm run bench`'s table.
 */
import { execFile, execFileSync } from 'node:child_process';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { writeCdnLibrary } from './cdn-library.ts';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const UNKNOWN = 5;
const PICTURES = 16;

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string' },
    files: { type: 'string', default: '105' },
    latency: { type: 'string', default: '200' },
    reruns: { type: 'string', default: '5' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

type Tool = 'ours' | 'seed';
interface RunFigure {
  seconds: number;
  exit: number;
  sidecars: number;
  previews: number;
}

const unavailable = seedUnavailable(args.seed);
if (unavailable) {
  console.log(`seed side by side skipped: ${unavailable}`);
  console.log(`@@BENCH ${JSON.stringify({ skipped: unavailable })}`);
} else {
  await main(path.resolve(args.seed as string));
}

/** Why the seed cannot run here, or undefined when it can. */
function seedUnavailable(dir: string | undefined): string | undefined {
  if (!dir) return 'no --seed DIR (a checkout of the seed’s CivitScraper) given';
  if (!existsSync(path.join(dir, 'civitscraper', 'cli.py'))) return `${dir} is not a checkout of the seed (no civitscraper/cli.py)`;
  try {
    execFileSync('python3', ['-c', 'import requests, yaml, jinja2'], { stdio: 'ignore' });
  } catch {
    return 'python3 with requests, pyyaml and jinja2 is needed to run the seed (pip install requests pyyaml jinja2)';
  }
  if (!existsSync(path.join(ROOT, 'dist', 'integration', 'cli', 'main.js'))) return 'dist/ is missing: run `npm run compile` first';
  return undefined;
}

async function main(seedDir: string): Promise<void> {
  const files = Math.max(UNKNOWN + 1, Number(args.files));
  const latency = Math.max(0, Number(args.latency));
  const reruns = Math.max(1, Number(args.reruns));
  const root = await mkdtemp(path.join(args.dir ?? tmpdir(), 'civitscraper-seed-'));
  const { startFakeCivitai } = await import('../src/dev/fake-civitai/index.ts');
  const { cdnRendition } = await import('../src/integration/engine/media/cdn.ts');
  const { ImagesOutputSchema } = await import('../src/integration/engine/config/schema.ts');
  console.log(`side by side with the seed (${seedDir}) — Node ${process.version}, ${availableParallelism()} cores, ${files} files, ${UNKNOWN} unknown to CivitAI`);
  try {
    const pristine = path.join(root, 'pristine');
    const library = await writeCdnLibrary(pristine, { models: files - UNKNOWN, unknown: UNKNOWN, previews: 2, pictures: PICTURES });
    const fake = await startFakeCivitai({ fixturesDir: library.fixturesDir, bindings: library.bindings });
    try {
      // Both renditions asked for rendered once before any clock starts (the seed asks for the
      // URL as listed, this tool for its configured width).
      const width = ImagesOutputSchema.parse({}).width;
      for (const url of library.imageUrls.slice(0, PICTURES)) {
        for (const target of [fake.cdnUrl(url), cdnRendition(fake.cdnUrl(url), { width })]) await (await fetch(target)).arrayBuffer();
      }
      const run = async (tool: Tool, dir: string): Promise<RunFigure> => {
        const config = path.join(dir, 'civitscraper.yaml');
        const [command, argv, env] =
          tool === 'ours'
            ? [process.execPath, [path.join(ROOT, 'bin', 'civitscraper.mjs'), '-c', config, '--no-site'], {}]
            : ['python3', ['-m', 'civitscraper.cli', '-c', config], { PYTHONPATH: seedDir }];
        const started = performance.now();
        const exit = await new Promise<number>((resolve) => {
          execFile(command, argv, { cwd: dir, env: { ...process.env, ...env, CIVITAI_API_KEY: '' }, maxBuffer: 64 * 1024 * 1024 }, (error) => {
            resolve(error ? (typeof error.code === 'number' ? error.code : 1) : 0);
          });
        });
        const seconds = (performance.now() - started) / 1000;
        return { seconds, exit, ...(await countOutputs(path.join(dir, 'library'))) };
      };
      const prepare = async (label: string) => {
        const dir = path.join(root, label);
        await cp(pristine, dir, { recursive: true, preserveTimestamps: true });
        await writeFile(path.join(dir, 'civitscraper.yaml'), seedYaml(fake.apiBaseUrl, dir));
        return dir;
      };

      const cold: { latencyMs: number; ours: RunFigure; seed: RunFigure }[] = [];
      const warm: Record<Tool, number[]> = { ours: [], seed: [] };
      for (const ms of latency > 0 ? [latency, 0] : [0]) {
        fake.setFaults(ms > 0 ? { latencyMs: ms, paths: '/api/' } : {});
        const figures = {} as Record<Tool, RunFigure>;
        for (const tool of ['ours', 'seed'] as const) {
          const dir = await prepare(`${tool}-${ms}ms`);
          figures[tool] = await run(tool, dir);
          console.log(`  ${tool.padEnd(4)} first run at ${ms} ms: ${describe(figures[tool])}`);
          if (ms === 0) {
            for (let i = 0; i < reruns; i += 1) warm[tool].push((await run(tool, dir)).seconds);
            console.log(`  ${tool.padEnd(4)} reruns, nothing changed: ${warm[tool].map((s) => s.toFixed(2)).join(', ')} s (median ${median(warm[tool]).toFixed(2)} s)`);
          }
        }
        cold.push({ latencyMs: ms, ...figures });
      }
      fake.setFaults({});
      const result = {
        files,
        latencyMs: latency,
        cold,
        warm: { ours: median(warm.ours), seed: median(warm.seed), runs: warm },
      };
      for (const figures of cold) {
        console.log(`first run at ${figures.latencyMs} ms API latency: ours ${figures.ours.seconds.toFixed(2)} s, the seed ${figures.seed.seconds.toFixed(2)} s (${(figures.seed.seconds / figures.ours.seconds).toFixed(2)}× faster)`);
      }
      console.log(`rerun, nothing changed (median of ${reruns}): ours ${result.warm.ours.toFixed(2)} s, the seed ${result.warm.seed.toFixed(2)} s`);
      console.log(`@@BENCH ${JSON.stringify(result)}`);
    } finally {
      await fake.close();
    }
  } finally {
    if (!args.keep) await rm(root, { recursive: true, force: true });
    else console.log(`kept: ${root}`);
  }
}

/** The same job for both tools, in the seed's keys only. */
function seedYaml(apiBaseUrl: string, dir: string): string {
  return stringify({
    api: { base_url: apiBaseUrl, timeout: 30, max_retries: 3, batch: { rate_limit: 1_000_000, retry_delay: 1000 } },
    input_paths: { lora: { path: path.join(dir, 'library'), type: 'LORA', patterns: ['*.safetensors'] } },
    default_job: 'bench',
    jobs: {
      bench: {
        type: 'scan-paths',
        recursive: true,
        skip_existing: true,
        verify_hashes: true,
        paths: ['lora'],
        output: {
          metadata: { format: 'json', path: '{model_dir}', filename: '{model_name}.json', html: { enabled: false, generate_gallery: false } },
          images: { save: true, path: '{model_dir}', max_count: 2 },
        },
        organization: { enabled: false },
      },
    },
    scanner: { cache_dir: path.join(dir, '.cache'), cache_validity: 86400 },
    logging: { level: 'WARNING', console: { enabled: true, level: 'WARNING' }, file: { enabled: false } },
  });
}

/** JSON sidecars (not `.civitai.info`) and preview images in the library folder. */
async function countOutputs(dir: string): Promise<{ sidecars: number; previews: number }> {
  const names = await readdir(dir, { recursive: true });
  return {
    sidecars: names.filter((name) => name.endsWith('.json')).length,
    previews: names.filter((name) => /\.(jpe?g|png|webp)$/i.test(name)).length,
  };
}

function describe(figure: RunFigure): string {
  return `${figure.seconds.toFixed(2)} s, exit ${figure.exit}, ${figure.sidecars} JSON sidecars, ${figure.previews} preview files`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

