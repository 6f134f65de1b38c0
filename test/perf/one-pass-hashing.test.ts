/**
 * One hashing pass by default: an identified file is read once (SHA256, AutoV2, AutoV1) and
 * takes AutoV3, CRC32 and BLAKE3 from CivitAI's answer; a file CivitAI does not know gets AutoV3
 * and CRC32 computed in a second read, once (the ledger keeps them for the next run).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Catalog, civitaiHashes, startFakeCivitai, type FakeCivitai } from '../../src/dev/fake-civitai/index.ts';
import { parseConfig, selectJobs, type ScanJob } from '../../src/integration/engine/config/index.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { formatBytes } from '../../src/integration/engine/util/format.ts';

let dir: string;
let fake: FakeCivitai;
const files: { name: string; bytes: Buffer }[] = [];

function safetensors(seed: string, dataBytes: number): Buffer {
  const data = Buffer.alloc(dataBytes);
  for (let i = 0; i < dataBytes; i += 32) createHash('sha256').update(`${seed} ${i}`).digest().copy(data, i);
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'U8', shape: [dataBytes], data_offsets: [0, dataBytes] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, data]);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cs-one-pass-'));
  const library = path.join(dir, 'library');
  await mkdir(library, { recursive: true });
  files.push({ name: 'known.safetensors', bytes: safetensors('known', 3 * 1024 * 1024) });
  files.push({ name: 'unknown.safetensors', bytes: safetensors('unknown', 300 * 1024) });
  const old = new Date(Date.now() - 3600_000);
  for (const file of files) {
    await writeFile(path.join(library, file.name), file.bytes);
    await utimes(path.join(library, file.name), old, old);
  }
  const catalog = new Catalog();
  const versionId = catalog.allVersionIds().find((id) => catalog.versionObjects(id).some((version) => (version.files ?? []).length > 0)) as number;
  const known = files[0] as { bytes: Buffer };
  const hashes = await civitaiHashes(known.bytes);
  fake = await startFakeCivitai({ bindings: [{ sha256: hashes.SHA256 as string, size: known.bytes.length, versionId, hashes }] });
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

describe('default hash types', () => {
  it('read an identified file once and take AutoV3/CRC32/BLAKE3 from CivitAI; compute them for an unknown file', async () => {
    const [known, unknown] = files as [{ name: string; bytes: Buffer }, { name: string; bytes: Buffer }];
    const lines: string[] = [];
    const logger = { debug: () => {}, info: (line: string) => lines.push(line), warn: () => {}, error: () => {} };
    const { records, report } = await runScanJob({ ...setup(), logger });
    // The first read: each file once. The second pass: only the unknown file, for AutoV3 + CRC32.
    expect(report.hash.bytes).toBe(known.bytes.length + unknown.bytes.length);
    expect(lines.filter((line) => line.includes('CivitAI does not know'))).toEqual([
      `hash: AutoV3/CRC32 of 1 file CivitAI does not know computed (${formatBytes(unknown.bytes.length)} read again)`,
    ]);
    const byName = new Map(records.map((record) => [record.file.name, record]));
    const expectedKnown = await civitaiHashes(known.bytes);
    expect(byName.get(known.name)?.civitai.status).toBe('identified');
    expect(byName.get(known.name)?.hashes).toEqual({
      SHA256: expectedKnown.SHA256,
      AutoV2: expectedKnown.AutoV2,
      AutoV1: expectedKnown.AutoV1,
      AutoV3: expectedKnown.AutoV3,
      CRC32: expectedKnown.CRC32,
      BLAKE3: expectedKnown.BLAKE3,
    });
    const expectedUnknown = await civitaiHashes(unknown.bytes);
    expect(byName.get(unknown.name)?.civitai.status).toBe('not-found');
    expect(byName.get(unknown.name)?.hashes).toEqual({
      SHA256: expectedUnknown.SHA256,
      AutoV2: expectedUnknown.AutoV2,
      AutoV3: expectedUnknown.AutoV3,
      CRC32: expectedUnknown.CRC32,
    });

    // The next run reads nothing: the ledger and the sidecar have every hash.
    const again = await runScanJob(setup());
    expect(again.report.hash.bytes).toBe(0);
    expect(new Map(again.records.map((record) => [record.file.name, record.hashes]))).toEqual(new Map(records.map((record) => [record.file.name, record.hashes])));
  });
});
