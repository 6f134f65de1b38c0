/**
 * Child process of the state suites (lock, store fallbacks): runs one scan-paths job with
 * `runScanJob` and prints every log line to stderr as `LEVEL message` (so the parent can wait
 * for one), then writes `{ report, records, warnings }` to `out`.
 * Usage: node run-child.ts <configFile> <out>
 */
import { writeFileSync } from 'node:fs';

const [configFile, out] = process.argv.slice(2);
if (!configFile || !out) throw new Error('usage: run-child.ts <configFile> <out>');

const { loadConfig, selectJobs } = await import('../../src/integration/engine/config/index.ts');
const { runScanJob } = await import('../../src/integration/engine/run.ts');
const { reportToJson } = await import('../../src/integration/engine/report.ts');

const { config } = await loadConfig({ configPath: configFile, env: {} });
const [selected] = selectJobs(config, {});
if (!selected || selected.job.type !== 'scan-paths') throw new Error('the config must have one scan-paths job');

const warnings: string[] = [];
const line = (level: string) => (message: string) => {
  if (level === 'WARN' || level === 'ERROR') warnings.push(message);
  process.stderr.write(`${level} ${message.replace(/\n/g, ' ')}\n`);
};
const logger = { debug: line('DEBUG'), info: line('INFO'), warn: line('WARN'), error: line('ERROR') };
const { records, report } = await runScanJob({ config, job: selected.job, jobName: selected.name, logger });
writeFileSync(
  out,
  JSON.stringify({
    pid: process.pid,
    warnings,
    report: reportToJson(report),
    records: records.map((record) => ({ path: record.file.path, status: record.civitai.status, sha256: record.hashes.SHA256 })),
  }),
);
