/**
 * Child of large-library.test.ts: one engine run over `<root>/civitscraper.yaml`, with CivitAI
 * answered in this process (no HTTP: the test is about the engine's open files, not requests).
 * A hash is known when its first byte is below <below> (of 256), as a version of its own with a
 * body from the fake's fixtures. Prints one JSON line with what the test checks.
 *
 * Usage: node scale-child.ts <root> <below>
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { inProcessCivitai } from '../../src/dev/fake-civitai/in-process.ts';
import { parseConfig, selectJobs } from '../../src/integration/engine/config/index.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { sidecarReadStats } from '../../src/integration/engine/sidecars/metadata.ts';

await main(process.argv[2] as string, Number(process.argv[3]));

async function main(root: string, identifiedBelow: number): Promise<void> {
  const file = path.join(root, 'civitscraper.yaml');
  const { config } = parseConfig(await readFile(file, 'utf8'), file);
  const [selected] = selectJobs(config, {});
  const client = inProcessCivitai({ templates: 20, models: 20, modelIdOf: (id) => (id % 2000) + 1, known: (sha) => Number.parseInt(sha.slice(0, 2), 16) < identifiedBelow });
  let stages = '';
  const quiet = () => undefined;
  const logger = { debug: (message: string) => void (message.startsWith('stages: ') && (stages = message.slice(8))), info: quiet, warn: quiet, error: quiet };
  const { records, report } = await runScanJob({
    config,
    job: selected?.job as never,
    jobName: selected?.name ?? 'scan',
    client: client as never,
    logger,
  });
  console.log(
    JSON.stringify({
      found: report.files.found,
      records: records.length,
      identified: records.filter((record) => record.civitai.status === 'identified').length,
      hash: report.hash,
      written: report.sidecars.written,
      sidecarReads: sidecarReadStats.reads,
      errors: report.errors.slice(0, 5),
      errorCount: report.errors.length,
      emfile: report.errors.filter((entry) => /EMFILE|ENFILE|too many open files/i.test(entry.message)).length,
      /** Seconds per stage, for the figures line. */
      stages,
    }),
  );
}
