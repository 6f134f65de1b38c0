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
import { Catalog } from '../../src/dev/fake-civitai/index.ts';
import { parseConfig, selectJobs } from '../../src/integration/engine/config/index.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { sidecarReadStats } from '../../src/integration/engine/sidecars/metadata.ts';

await main(process.argv[2] as string, Number(process.argv[3]));

async function main(root: string, identifiedBelow: number): Promise<void> {
  const file = path.join(root, 'civitscraper.yaml');
  const { config } = parseConfig(await readFile(file, 'utf8'), file);
  const [selected] = selectJobs(config, {});
  const catalog = new Catalog();
  const templates = catalog
    .allVersionIds()
    .map((id) => catalog.versionBody(id))
    .filter((body): body is NonNullable<typeof body> => body !== undefined)
    .slice(0, 20);
  const models = catalog
    .allVersionIds()
    .map((id) => catalog.modelOf(id))
    .filter((model) => model !== undefined)
    .slice(0, 20);
  const stats = { apiRequests: 0, downloadRequests: 0, retries: 0, throttled: 0, shortCircuited: 0, downloadedBytes: 0 };
  const idOf = (sha: string) => (Number.parseInt(sha.slice(0, 8), 16) % 900_000_000) + 1;
  const client = {
    stats,
    async getVersionsBySha256(hashes: readonly string[]) {
      stats.apiRequests += 1;
      return hashes
        .filter((sha) => Number.parseInt(sha.slice(0, 2), 16) < identifiedBelow)
        .map((sha) => {
          const id = idOf(sha);
          const template = templates[id % templates.length] as Record<string, unknown>;
          const files = (template.files as Record<string, unknown>[] | undefined) ?? [];
          const primary = { ...(files[0] ?? {}), name: 'model.safetensors', sizeKB: 0.2, primary: true, hashes: { SHA256: sha.toUpperCase() } };
          return { ...template, id, modelId: (id % 2000) + 1, files: [primary] };
        });
    },
    async getVersionByHash() {
      stats.apiRequests += 1;
      return { found: false };
    },
    async getModels(ids: readonly number[]) {
      stats.apiRequests += 1;
      return ids.map((id) => ({ ...(models[id % models.length] as Record<string, unknown>), id }));
    },
    async getModel(id: number) {
      stats.apiRequests += 1;
      return { found: true, value: { ...(models[id % models.length] as Record<string, unknown>), id } };
    },
    async getImages() {
      return { items: [] };
    },
    async download() {
      throw new Error('no downloads in this test');
    },
  };
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
