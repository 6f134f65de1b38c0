/**
 * `npm run demo`: generates the bundled sample library, starts the fake CivitAI server on
 * 127.0.0.1, and builds this repository's site (astro.config.mjs: the gallery from the
 * integration, next to a page of the site's own) into demo/site/, then exits. Everything it
 * writes stays in demo/; nothing goes to the internet.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { buildSite, PACKAGE_ROOT } from '../integration/cli/build-site.ts';
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

/** The sample library, a running fake CivitAI and a config for both, in demo/. */
export async function prepareDemo(options: Pick<DemoOptions, 'demoDir'> = {}) {
  const demoDir = path.resolve(options.demoDir ?? path.join(PACKAGE_ROOT, 'demo'));
  // Start from scratch: sidecars of an earlier demo point at an earlier server port. A built
  // site in demo/site is kept until the next build replaces it (`npm run preview` serves it).
  await mkdir(demoDir, { recursive: true });
  for (const name of await readdir(demoDir)) {
    if (name !== 'site') await rm(path.join(demoDir, name), { recursive: true, force: true });
  }
  const libraryDir = path.join(demoDir, 'library');
  const library = await generateSampleLibrary(libraryDir);
  const fake = await startFakeCivitai({ library });
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
  return { demoDir, libraryDir, configPath, library, fake };
}

export async function runDemo(options: DemoOptions = {}) {
  const outDir = path.resolve(options.outDir ?? path.join(PACKAGE_ROOT, 'demo', 'site'));
  const { demoDir, libraryDir, configPath, library, fake } = await prepareDemo(options);
  try {
    await buildSite({ configPath, outDir, projectRoot: PACKAGE_ROOT, cacheDir: options.astroCacheDir, logLevel: options.logLevel });
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
      `  or serve:  npm run preview   (the site's own page: /about/)`,
      `  or live:   npm run dev       (astro dev over the same library and a fresh fake CivitAI)`,
      `  library:   ${result.libraryDir} (sidecars and previews were written next to the models)`,
      `  config:    ${result.configPath}`,
      `  API calls: ${result.requests} to the local fake CivitAI`,
      '',
    ].join('\n'),
  );
}
