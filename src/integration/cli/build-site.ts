/**
 * Builds a gallery site with Astro's JavaScript API, for `civitscraper build`, the demo and the
 * end-to-end tests:
 *
 * - in an Astro project (a folder with an astro.config.*), that project, whose config adds the
 *   integration: the user's own site with the gallery in it;
 * - anywhere else, the bundled site: no config file, only the integration's pages, built in a
 *   private folder so the package's own folder is never written to.
 */
import { build } from 'astro';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's folder (a clone of the repository, or node_modules/civitscraper-astro). */
export const PACKAGE_ROOT = path.resolve(fileURLToPath(new URL('../../..', import.meta.url)));

const ASTRO_CONFIGS = ['astro.config.mjs', 'astro.config.js', 'astro.config.ts', 'astro.config.mts', 'astro.config.cjs', 'astro.config.cts'];

export interface BuildSiteOptions {
  configPath: string;
  outDir?: string;
  /** Astro's cache (content store, incremental build data); one per site being built. */
  cacheDir?: string;
  job?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** The Astro project to build; without it, the bundled site. */
  projectRoot?: string;
}

/** The Astro project in `dir`, if `dir` is one. */
export function findAstroProject(dir: string): string | undefined {
  return ASTRO_CONFIGS.some((name) => existsSync(path.join(dir, name))) ? path.resolve(dir) : undefined;
}

export async function buildSite(options: BuildSiteOptions): Promise<{ outDir: string; project?: string }> {
  const configPath = path.resolve(options.configPath);
  // The loader and the integration find the config the same way the CLI does.
  process.env.CIVITSCRAPER_CONFIG = configPath;
  if (options.job) process.env.CIVITSCRAPER_JOB = options.job;
  const project = options.projectRoot ? path.resolve(options.projectRoot) : undefined;
  const root = project ?? (await bundledSiteRoot(configPath, options.outDir));
  const outDir = path.resolve(options.outDir ?? (project ? path.join(project, 'dist') : 'site'));
  const cacheDir = options.cacheDir ? path.resolve(options.cacheDir) : undefined;

  // Parts of Astro's build (the prerender chunks and the packages they import) go by the working
  // directory, not by `root`: build from the root folder wherever the command was started.
  const cwd = process.cwd();
  process.chdir(root);
  // For an output folder outside the root, Astro stages its prerender chunks under the root and
  // renames them across (EXDEV on another disk; collisions when two builds run at once). Build
  // in a private folder inside the root instead, then copy the result.
  const inside = !path.relative(root, outDir).startsWith('..');
  const stagingParent = project ? path.join(project, 'node_modules', '.cache') : root;
  if (!inside) await mkdir(stagingParent, { recursive: true });
  const staging = inside ? undefined : await mkdtemp(path.join(stagingParent, 'civitscraper-build-'));
  try {
    const common = {
      root,
      outDir: staging ?? outDir,
      ...(cacheDir ? { cacheDir } : {}),
      logLevel: options.logLevel ?? 'info',
    } as const;
    if (project) {
      await build(common);
    } else {
      const { default: civitscraper } = await import('../index.ts');
      await build({
        ...common,
        configFile: false,
        ...(cacheDir ? {} : { cacheDir: path.join(root, 'astro-cache') }),
        // Model pages whose cacheKey (site/page-key.ts) is unchanged are not rendered again.
        experimental: { incrementalBuild: true },
        // A build of its own, in a process of its own: the memory-saving V8 flag costs no one
        // else, and is set for a library large enough to need it (options.ts LOW_MEMORY_FROM).
        integrations: [civitscraper({ config: configPath, ...(options.job ? { job: options.job } : {}), lowMemoryBuild: 'auto' })],
      });
    }
    if (staging) {
      await rm(outDir, { recursive: true, force: true });
      await moveInto(staging, outDir);
    }
  } finally {
    process.chdir(cwd);
    if (staging) await rm(staging, { recursive: true, force: true });
  }
  return { outDir, ...(project ? { project } : {}) };
}

/**
 * The staged site into `outDir`: on the same disk a rename per top-level entry (a copy took a
 * third of a warm build and turned the images' hard links into copies), else a copy. `outDir`
 * itself is made anew, not renamed from the private staging folder, so it gets the usual mode.
 */
async function moveInto(staging: string, outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  for (const name of await readdir(staging)) {
    const from = path.join(staging, name);
    const to = path.join(outDir, name);
    await rename(from, to).catch(() => cp(from, to, { recursive: true }));
  }
}

/**
 * Where the bundled site is built: under the node_modules that holds this package (Astro's build
 * output imports `astro` and the package's dependencies by name, so it must be able to find
 * them), one folder per config and output, so two builds at once never share one.
 */
async function bundledSiteRoot(configPath: string, outDir: string | undefined): Promise<string> {
  const marker = `${path.sep}node_modules${path.sep}`;
  const at = PACKAGE_ROOT.lastIndexOf(marker);
  const modules = at >= 0 ? PACKAGE_ROOT.slice(0, at + marker.length - 1) : path.join(PACKAGE_ROOT, 'node_modules');
  const key = createHash('sha256').update(`${configPath}\0${path.resolve(outDir ?? 'site')}`).digest('hex').slice(0, 12);
  const root = path.join(modules, '.cache', 'civitscraper-site', key);
  try {
    await mkdir(root, { recursive: true });
  } catch (error) {
    throw new Error(
      `cannot write ${root} (${(error as NodeJS.ErrnoException).code ?? String(error)}), where the bundled site is built. Install civitscraper-astro in a folder you can write to (npm i civitscraper-astro, or npx civitscraper-astro), or build inside an Astro project of yours.`,
    );
  }
  return root;
}
