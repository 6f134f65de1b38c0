/**
 * Child process of the crash and bad-input suites: runs one scan-paths job with `runScanJob`.
 * Usage: node engine-child.ts <args.json> (see ChildArgs in helpers.ts).
 *
 * Probe points are every log line (debug level: one per HTTP request, retry and stage), every
 * progress event, and both sides of every rename (each atomic write of a sidecar or preview
 * ends in one). With `killAt`, the child SIGKILLs itself at that probe: a real kill -9, no
 * finally blocks, no flushing. Without it, it writes `{ probes, report, records }` to `out`.
 */
import fs, { mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';

interface Args {
  configFile: string;
  out: string;
  killAt?: number;
  afterDiscover?: Array<{ op: 'unlink' | 'mkdir' | 'mkfifo' | 'replace-with-dir'; path: string }>;
}

const args = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as Args;
let probes = 0;
const probe = () => {
  probes += 1;
  if (args.killAt !== undefined && probes >= args.killAt) process.kill(process.pid, 'SIGKILL');
};

// Every atomic write ends in a rename: probe just before and just after it.
const rename = fs.promises.rename;
fs.promises.rename = async (from, to) => {
  probe();
  await rename(from, to);
  probe();
};
syncBuiltinESMExports();

let discovered = false;
const afterDiscover = () => {
  if (discovered) return;
  discovered = true;
  for (const step of args.afterDiscover ?? []) {
    if (step.op === 'unlink') unlinkSync(step.path);
    else if (step.op === 'mkdir') mkdirSync(step.path, { recursive: true });
    else if (step.op === 'replace-with-dir') {
      rmSync(step.path, { force: true });
      mkdirSync(step.path);
    } else if (step.op === 'mkfifo') {
      rmSync(step.path, { force: true });
      execFileSync('mkfifo', [step.path]);
    }
  }
};

const { loadConfig, selectJobs } = await import('../../src/integration/engine/config/index.ts');
const { runScanJob } = await import('../../src/integration/engine/run.ts');
const { reportToJson } = await import('../../src/integration/engine/report.ts');

const { config } = await loadConfig({ configPath: args.configFile, env: {} });
const [selected] = selectJobs(config, {});
if (!selected || selected.job.type !== 'scan-paths') throw new Error('the config must have one scan-paths job');

const line = (message: string) => {
  probe();
  if (/^discover\b/.test(message)) afterDiscover();
};
const logger = { debug: line, info: line, warn: line, error: line };
const { records, report } = await runScanJob({
  config,
  job: selected.job,
  jobName: selected.name,
  logger,
  onProgress: (event) => {
    probe();
    if (event.stage === 'discover' && event.phase === 'end') afterDiscover();
  },
});
writeFileSync(
  args.out,
  JSON.stringify({
    probes,
    report: reportToJson(report),
    records: records.map((record) => ({ path: record.file.path, status: record.civitai.status, sha256: record.hashes.SHA256 })),
  }),
);
