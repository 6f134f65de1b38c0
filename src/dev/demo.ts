/**
 * `npm run demo`: generates the bundled sample library, starts the fake CivitAI server on
 * 127.0.0.1, runs the engine through an Astro build of the gallery into dist/, and exits.
 * Everything it writes stays in demo/ and dist/; nothing goes to the internet.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { buildSite, PROJECT_ROOT } from '../integration/cli/build-site.ts';
import { startFakeCivitai } from './fake-civitai/index.ts';
import { generateSampleLibrary, sampleInputPaths } from './sample-library/index.ts';

export interface DemoOptions {
  /** Folder for the library, config and caches (default: demo/). */
  demoDir?: string;
  outDir?: string;
  /** Astro's cache folder; separate per site when several are built at once (tests). */
  astroCacheDir?: string;
  logLevel?: 'info' | 'warn' | 'error' | 'silent';
}

export async function runDemo(options: DemoOptions = {}) {
  const demoDir = path.resolve(options.demoDir ?? path.join(PROJECT_ROOT, 'demo'));
  const outDir = path.resolve(options.outDir ?? path.join(PROJECT_ROOT, 'dist'));
  // Start from scratch: sidecars of an earlier demo point at an earlier server port.
  await rm(demoDir, { recursive: true, force: true });
  await mkdir(demoDir, { recursive: true });
  const libraryDir = path.join(demoDir, 'library');
  const library = await generateSampleLibrary(libraryDir);
  const fake = await startFakeCivitai({ library });
  try {
    const configPath = path.join(demoDir, 'civitscraper.yaml');
    const config = {
      api: { base_url: fake.apiBaseUrl, timeout: 10, max_retries: 2, batch: { retry_delay: 200 } },
      input_paths: sampleInputPaths(libraryDir),
      default_job: 'gallery',
      jobs: {
        gallery: {
          type: 'scan-paths',
          output: {
            metadata: { html: { gallery_title: 'CivitScraper demo library' } },
            images: { max_count: 4 },
          },
        },
      },
      scanner: { cache_dir: path.join(demoDir, '.cache') },
    };
    await writeFile(configPath, `# Written by npm run demo: the bundled sample library and the local fake CivitAI.\n${stringify(config)}`);
    await buildSite({ configPath, outDir, cacheDir: options.astroCacheDir, logLevel: options.logLevel });
    return { demoDir, libraryDir, outDir, configPath, library, requests: fake.requests.length };
  } finally {
    await fake.close();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { 'demo-dir': { type: 'string' }, out: { type: 'string' }, 'astro-cache': { type: 'string' }, quiet: { type: 'boolean' } },
  });
  const result = await runDemo({
    demoDir: values['demo-dir'],
    outDir: values.out,
    astroCacheDir: values['astro-cache'],
    logLevel: values.quiet ? 'warn' : 'info',
  });
  process.stdout.write(
    [
      '',
      'Demo built.',
      `  gallery:   ${path.join(result.outDir, 'index.html')} (open it in a browser; it works from disk)`,
      `  or serve:  npm run preview`,
      `  library:   ${result.libraryDir} (sidecars and previews were written next to the models)`,
      `  config:    ${result.configPath}`,
      `  API calls: ${result.requests} to the local fake CivitAI`,
      '',
    ].join('\n'),
  );
}
