/**
 * The headless command line: the same engine as the Astro loader, without building the site.
 * Exit codes: 0 done, 1 some files failed (listed in the report), 2 bad config or arguments,
 * 130 interrupted.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, selectJobs } from '../integration/config/index.ts';
import { runScanJob } from '../integration/engine/run.ts';
import { reportToJson, type RunReport } from '../integration/engine/report.ts';
import { toJsonText, writeFileAtomic } from '../integration/util/atomic-write.ts';
import { consoleLogger, redactingLogger, silentLogger } from '../integration/util/logger.ts';

export const EXIT = { ok: 0, filesFailed: 1, usage: 2, interrupted: 130 } as const;

const HELP = `Usage: civitscraper [options]

Identify the model files of your library on CivitAI, write their metadata and previews
next to them, and keep the records the gallery site is built from.

Options:
  -c, --config FILE    config file (default: $CIVITSCRAPER_CONFIG, ./civitscraper.yaml,
                       ~/.config/civitscraper/config.yaml)
  -j, --job NAME       run this job (default: default_job)
      --all-jobs       run every job, in file order
      --dry-run        change nothing on disk; report what would be done
      --force-refresh  ignore stored results and ask CivitAI again
      --report FILE    write the run report as JSON to FILE
      --json           print the run report as JSON on stdout
  -q, --quiet          only errors on the console
      --debug          log every request (never the API key)
  -v, --version        print the version
  -h, --help           this text

Examples:
  civitscraper --config ~/models/civitscraper.yaml
  civitscraper -j loras --report run.json
  CIVITAI_API_KEY=... civitscraper --all-jobs --force-refresh

Exit codes: 0 done, 1 some files failed (see the report), 2 bad config or arguments,
130 interrupted (rerun to continue).
`;

export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        job: { type: 'string', short: 'j' },
        'all-jobs': { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        'force-refresh': { type: 'boolean' },
        report: { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean', short: 'q' },
        debug: { type: 'boolean' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`civitscraper: ${(error as Error).message}\nRun \`civitscraper --help\` for the options.\n`);
    return EXIT.usage;
  }
  const flags = args.values;
  if (flags.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (flags.version) {
    process.stdout.write(`${readVersion()}\n`);
    return EXIT.ok;
  }

  let loaded;
  try {
    loaded = await loadConfig({ configPath: flags.config });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  }
  const { config } = loaded;
  const level = flags.debug ? 'DEBUG' : flags.quiet ? 'ERROR' : (config.logging.console.level ?? config.logging.level);
  const logger = config.logging.console.enabled || flags.debug
    ? redactingLogger(consoleLogger({ level }), [config.api.key])
    : silentLogger;
  for (const warning of loaded.warnings) logger.warn(warning);
  logger.info(`config: ${loaded.file}`);

  let jobs;
  try {
    jobs = selectJobs(config, { job: flags.job, allJobs: flags['all-jobs'] });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  }

  const reports: RunReport[] = [];
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    process.stderr.write('\ninterrupted: finishing the file in flight; rerun to continue\n');
    process.exit(EXIT.interrupted);
  };
  process.once('SIGINT', onSigint);
  try {
    for (const { name, job } of jobs) {
      if (job.type !== 'scan-paths') {
        logger.warn(`job "${name}" (${job.type}) is not available in this version yet; skipped`);
        continue;
      }
      logger.info(`job "${name}"`);
      const { report } = await runScanJob({
        config,
        jobName: name,
        job,
        logger,
        dryRun: flags['dry-run'] || config.dry_run,
        forceRefresh: flags['force-refresh'] || undefined,
      });
      for (const entry of report.errors) logger.error(`${entry.stage}: ${entry.path}: ${entry.message}`);
      reports.push(report);
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }

  const output = reports.length === 1 ? reportToJson(reports[0] as RunReport) : { jobs: reports.map(reportToJson) };
  if (flags.report) await writeFileAtomic(flags.report, toJsonText(output));
  if (flags.json) process.stdout.write(toJsonText(output));
  if (interrupted) return EXIT.interrupted;
  return reports.some((report) => report.files.failed > 0) ? EXIT.filesFailed : EXIT.ok;
}

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
