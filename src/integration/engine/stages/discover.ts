import path from 'node:path';
import { resolveOutputRoot } from '../organize/index.ts';
import type { RunContext } from '../run.ts';
import { discoverModelFiles } from '../scan/discover.ts';

export async function discover(ctx: RunContext): Promise<void> {
  const { config, job, report } = ctx;
  const inputIds = job.paths ?? Object.keys(config.input_paths);
  const exclude = [path.resolve(config.scanner.cache_dir)];
  const discovery = await discoverModelFiles(config.input_paths, inputIds, { recursive: job.recursive, exclude });
  if (job.organization.enabled && job.organization.operation_mode !== 'move') {
    // Copies and links in the organized tree are a view of the library, not more of it.
    const outputDir = job.organization.output_dir;
    discovery.files = discovery.files.filter((file) => !isInside(resolveOutputRoot(outputDir, file.path), file.path));
  }
  ctx.files = discovery.files;
  ctx.listings = discovery.listings;
  report.files.found = discovery.files.length;
  ctx.progress?.({ stage: 'discover', phase: 'end', done: discovery.files.length, total: discovery.files.length });
  for (const problem of discovery.problems) report.fail(problem.path, problem.stage, problem.message);
  ctx.log.info(`discover: ${discovery.files.length} model files in ${inputIds.length} input path(s)`);
}

function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
