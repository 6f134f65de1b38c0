/** `civitscraper build`: the job(s) as `scan` runs them, then the gallery site with Astro. */
import type { CliContext } from '../context.ts';
import { runJobs } from './scan.ts';
import { checkSiteCuration, siteStep } from './site-step.ts';
import { chooseJobs, exitCodeFor, runJson, type CommandResult } from './shared.ts';

export async function buildCommand(ctx: CliContext): Promise<CommandResult> {
  checkSiteCuration(ctx);
  const { outcomes, notRun } = await runJobs(ctx, chooseJobs(ctx));
  const scanned = exitCodeFor(ctx, outcomes);
  // In an Astro project, that project (its config adds the gallery); elsewhere the bundled site.
  const { findAstroProject } = await import('../build-site.ts');
  const project = findAstroProject(process.cwd());
  const { exitCode, site } = await siteStep(ctx, scanned, {
    ...(project ? { projectRoot: project } : {}),
    ...(ctx.args.outDir ? { outDir: ctx.args.outDir } : {}),
  });
  return { exitCode, json: { ...runJson(ctx, outcomes, exitCode, notRun), site } };
}
