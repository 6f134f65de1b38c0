/**
 * The scale target: a library of 1,000 identifiable files is identified in a handful of
 * requests, and a second run with nothing changed reads nothing and asks nothing.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Catalog, startFakeCivitai, type FakeCivitai } from '../src/dev/fake-civitai/index.ts';
import { parseConfig, selectJobs, type ScanJob } from '../src/integration/engine/config/index.ts';
import { runScanJob } from '../src/integration/engine/run.ts';

const FILES = 1000;
let dir: string;
let fake: FakeCivitai;

function tinySafetensors(seed: number): Buffer {
  const data = createHash('sha256').update(`tensor ${seed}`).digest();
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'U8', shape: [data.length], data_offsets: [0, data.length] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, data]);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-scale-'));
  const catalog = new Catalog();
  const versions = catalog.allVersionIds().filter((id) => catalog.versionObjects(id).some((version) => (version.files ?? []).length > 0));
  const bindings = [];
  for (let index = 0; index < FILES; index += 1) {
    const bytes = tinySafetensors(index);
    const folder = path.join(dir, 'library', `shelf-${index % 17}`);
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, `model-${index}.safetensors`), bytes);
    bindings.push({
      sha256: createHash('sha256').update(bytes).digest('hex').toUpperCase(),
      size: bytes.length,
      versionId: versions[index % versions.length] as number,
    });
  }
  fake = await startFakeCivitai({ bindings });
});
afterAll(async () => {
  await fake?.close();
});

function setup() {
  const text = stringify({
    api: { base_url: fake.apiBaseUrl, batch: { rate_limit: 6000 } },
    input_paths: { models: { path: path.join(dir, 'library'), type: 'LORA' } },
    jobs: { scan: { type: 'scan-paths', output: { images: { save: false } } } },
    scanner: { cache_dir: path.join(dir, '.cache') },
  });
  const { config } = parseConfig(text, path.join(dir, 'civitscraper.yaml'));
  const [selected] = selectJobs(config, {});
  return { config, job: selected?.job as ScanJob, jobName: selected?.name ?? 'scan' };
}

describe(`a library of ${FILES} identifiable files`, () => {
  it('is identified with at most 25 API requests', async () => {
    const { report, records } = await runScanJob(setup());
    expect(report.api.identified).toBe(FILES);
    expect(records.every((record) => record.model !== undefined || record.civitai.status === 'identified')).toBe(true);
    expect(report.api.requests).toBeLessThanOrEqual(25);
    console.info(`1000 files identified with ${report.api.requests} API requests`);
    expect(report.hash.files).toBe(FILES);
  });

  it('a second run with nothing changed reads 0 bytes and makes 0 API requests', async () => {
    const { report } = await runScanJob(setup());
    expect(report.hash.bytes).toBe(0);
    expect(report.api.requests).toBe(0);
    expect(report.api.identified).toBe(FILES);
  });
});
