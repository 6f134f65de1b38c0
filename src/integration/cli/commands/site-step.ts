/**
 * The site after the jobs: `civitscraper build` always, and the default command (`scan`) when the
 * config's HTML output is on, as the seed's main command wrote its pages and gallery.
 */
import path from 'node:path';
import { CurationError, readCuration } from '../../site/curation.ts';
import { publishTargets } from '../../site/publish.ts';
import { siteScanJobs } from '../../site/sync.ts';
import type { CliContext } from '../context.ts';
import { EXIT, messageOf, UsageError } from '../exit.ts';

/** Whether `civitscraper [scan]` builds the site: HTML output on, not a dry run, no --no-site. */
export function scanBuildsSite(ctx: CliContext): boolean {
  if (ctx.args.noSite || ctx.dryRun || ctx.args.command !== 'scan') return false;
  const job = siteScanJobs(ctx.config, ctx.args.job)[0]?.job;
  return job?.output.metadata.html.enabled === true;
}

/** A bad or missing `site.curation` file stops the command before the scan (exit 2), naming the file. */
export function checkSiteCuration(ctx: CliContext): void {
  const file = ctx.config.site.curation;
  if (!file) return;
  try {
    readCuration(file, 'site.curation');
  } catch (error) {
    if (error instanceof CurationError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * Builds the site after the jobs ran (not after an interrupt or a usage error). Without `outDir`
 * the bundled site goes to `<scanner.cache_dir>/site`; `html.gallery_path` gets its copy from the
 * integration. A failed build makes the run exit 1.
 */
export async function siteStep(
  ctx: CliContext,
  exitCode: number,
  where: { projectRoot?: string; outDir?: string },
): Promise<{ exitCode: number; site: Record<string, unknown> }> {
  const site: Record<string, unknown> = { built: false };
  const outDir = where.outDir ?? (where.projectRoot ? undefined : path.join(ctx.config.scanner.cache_dir, 'site'));
  if (exitCode === EXIT.interrupted || exitCode === EXIT.usage) {
    ctx.logger.warn('the site is not built');
    return { exitCode, site };
  }
  if (ctx.dryRun) {
    ctx.logger.info(`dry run: the site is not built${outDir ? ` (it would go to ${path.resolve(outDir)})` : ''}`);
    return { exitCode, site };
  }
  try {
    ctx.terminal.clearLive();
    const quietAstro = ctx.args.quiet || ctx.args.json || !ctx.logging.consoleProgress;
    const { buildSite } = await import('../build-site.ts');
    const built = await buildSite({
      configPath: ctx.loaded.file,
      ...(where.projectRoot ? { projectRoot: where.projectRoot } : {}),
      ...(outDir ? { outDir } : {}),
      ...(ctx.args.astroCache ? { cacheDir: ctx.args.astroCache } : {}),
      ...(ctx.args.job ? { job: ctx.args.job } : {}),
      logLevel: quietAstro ? 'error' : ctx.args.debug ? 'debug' : 'info',
    });
    site.built = true;
    site.outDir = built.outDir;
    const copy = galleryCopy(ctx);
    if (copy) site.galleryPath = copy;
    const project = built.project ? ` (the Astro project in ${built.project})` : '';
    ctx.logger.info(`site built in ${built.outDir}${project}; open ${copy ?? path.join(built.outDir, 'index.html')}`);
    return { exitCode, site };
  } catch (error) {
    site.error = messageOf(error);
    ctx.logger.error(`the site build failed: ${messageOf(error)}`);
    return { exitCode: EXIT.filesFailed, site };
  }
}

/** The page a seed user's bookmark opens (`html.gallery_path`), when the gallery is copied there. */
function galleryCopy(ctx: CliContext): string | undefined {
  const html = siteScanJobs(ctx.config, ctx.args.job)[0]?.job.output.metadata.html;
  if (!html?.gallery_path || !html.generate_gallery) return undefined;
  return publishTargets(html.gallery_path).entry;
}
