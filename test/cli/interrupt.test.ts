/**
 * Ctrl-C in the middle of hashing: the run stops between files, writes its report and exits 130;
 * the next run continues where it stopped, without hashing the finished files again.
 */
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, createCliWorkspace, readJson, startCli, writeConfig, type CliWorkspace } from './helpers.ts';

let ws: CliWorkspace;

beforeAll(async () => {
  ws = await createCliWorkspace('cs-cli-int-');
});
afterAll(async () => {
  await ws.close();
});

const FILES = 10;
const MIB = 1024 * 1024;

/** Valid safetensors files big enough that hashing all of them takes a while (unknown to CivitAI). */
async function bigLibrary(dir: string): Promise<{ sizes: number[] }> {
  await mkdir(dir, { recursive: true });
  const sizes: number[] = [];
  // Old enough that the hash ledger trusts size + mtime (files modified just now are re-read).
  const old = new Date(Date.now() - 86_400_000);
  for (let index = 0; index < FILES; index += 1) {
    const dataBytes = (40 + index * 2) * MIB;
    const header = Buffer.from(JSON.stringify({ weight: { dtype: 'U8', shape: [dataBytes], data_offsets: [0, dataBytes] } }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    const data = Buffer.alloc(dataBytes, index + 1);
    const file = path.join(dir, `big-${String(index).padStart(2, '0')}.safetensors`);
    await writeFile(file, Buffer.concat([length, header, data]));
    await utimes(file, old, old);
    sizes.push(8 + header.length + dataBytes);
  }
  return { sizes };
}

describe('Ctrl-C', () => {
  it('mid-hash: exits 130 with a report; the rerun hashes only what was not finished', async () => {
    const dir = path.join(ws.root, 'big');
    const { sizes } = await bigLibrary(path.join(dir, 'Big'));
    const total = sizes.reduce((sum, size) => sum + size, 0);
    const file = path.join(dir, 'civitscraper.yaml');
    await writeConfig(file, {
      api: { base_url: ws.fake.apiBaseUrl, key: API_KEY, max_retries: 1, batch: { retry_delay: 1 } },
      input_paths: { big: { path: path.join(dir, 'Big'), type: 'LORA' } },
      scanner: { cache_dir: path.join(dir, '.cache') },
      logging: { console: { simple: true } },
    });
    const firstReport = path.join(dir, 'first.json');
    const run = startCli(ws, ['-c', file, '--debug', '--report', firstReport]);
    // A finished file is logged (with --debug) as `debug: hash: N/10 …`: interrupt after the first one.
    const progressLine = await run.waitFor(/^debug: hash: [1-9]\d*\/\d+/m);
    expect(progressLine, 'the engine reports hashing progress (a `debug: hash: N/M` line) before it ends').toBeDefined();
    run.child.kill('SIGINT');
    const first = await run.exited;
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(/Ctrl-C: stopping/);
    expect(first.stderr).toMatch(/interrupted: what finished is saved/);
    const interrupted = await readJson(firstReport);
    expect(interrupted.exitCode).toBe(130);
    expect(interrupted.interrupted).toBe(true);
    // The files that finished are in the hash ledger; the run report says how many when the
    // engine hands over a partial report.
    const finishedFirst: number | undefined = interrupted.hash?.files;

    const secondReport = path.join(dir, 'second.json');
    const rerun = startCli(ws, ['-c', file, '--report', secondReport, '-q']);
    const second = await rerun.exited;
    expect(second.code).toBe(0);
    const resumed = await readJson(secondReport);
    expect(resumed.files).toEqual({ found: FILES, failed: 0 });
    // Only the files the first run did not finish are read again; the others come from the ledger.
    expect(resumed.hash.files + resumed.hash.fromLedger).toBe(FILES);
    expect(resumed.hash.fromLedger).toBeGreaterThanOrEqual(1);
    expect(resumed.hash.files).toBeLessThan(FILES);
    expect(resumed.hash.bytes).toBeLessThan(total);
    if (finishedFirst !== undefined) expect(resumed.hash.fromLedger).toBe(finishedFirst);
    expect(resumed.api.notFound).toBe(FILES);

    // A third run reads nothing at all.
    const thirdReport = path.join(dir, 'third.json');
    expect((await startCli(ws, ['-c', file, '--report', thirdReport, '-q']).exited).code).toBe(0);
    expect((await readJson(thirdReport)).hash).toMatchObject({ files: 0, bytes: 0 });
  });
});
