/** `civitscraper build`: the job(s) as `scan` runs them, then the gallery site with Astro. */
import path from 'node:path';

import type { CliContext } from '../context.ts';
import { EXIT, messageOf } from '../exit.ts';
import { runJobs } from './scan.ts';
import { chooseJobs, exitCodeFor, runJson, type CommandResult } from './shared.ts';

export async function buildCommand(ctx: CliContext): Promise<CommandResult> {
  const { outcomes, notRun } = await runJobs(ctx, chooseJobs(ctx));
  let exitCode = exitCodeFor(outcomes, ctx.interrupt.interrupted);
  const site: Record<string, unknown> = { built: false };
  if (exitCode === EXIT.interrupted || exitCode === EXIT.usage) {
    ctx.logger.warn('the site is not built');
  } else if (ctx.dryRun) {
    ctx.logger.info(`dry run: the site is not built${ctx.args.outDir ? ` (it would go to ${path.resolve(ctx.args.outDir)})` : ''}`);
  } else {
    try {
      ctx.terminal.clearLive();
      const quietAstro = ctx.args.quiet || ctx.args.json || !ctx.logging.consoleProgress;
      const { buildSite, findAstroProject } = await import('../build-site.ts');
      // In an Astro project, that project (its config adds the gallery); elsewhere the bundled site.
      const project = findAstroProject(process.cwd());
      const { outDir } = await buildSite({
        configPath: ctx.loaded.file,
        ...(project ? { projectRoot: project } : {}),
        ...(ctx.args.outDir ? { outDir: ctx.args.outDir } : {}),
        ...(ctx.args.astroCache ? { cacheDir: ctx.args.astroCache } : {}),
        ...(ctx.args.job ? { job: ctx.args.job } : {}),
        logLevel: quietAstro ? 'error' : ctx.args.debug ? 'debug' : 'info',
      });
      site.built = true;
      site.outDir = outDir;
      ctx.logger.info(`site built in ${outDir}${project ? ` (the Astro project in ${project})` : ''}; open ${path.join(outDir, 'index.html')}`);
    } catch (error) {
      site.error = messageOf(error);
      ctx.logger.error(`the site build failed: ${messageOf(error)}`);
      exitCode = EXIT.filesFailed;
    }
  }
  return { exitCode, json: { ...runJson(ctx, outcomes, exitCode, notRun), site } };
}
