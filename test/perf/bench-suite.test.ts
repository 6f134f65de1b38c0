/**
 * `npm run bench`'s table (bench/suite-table.ts): every row of the big-library table is printed
 * whatever was measured, failed or skipped, verdicts follow the targets, and the suite reads what
 * bench/scale.ts really prints (run here on 20 files).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildRows, formatTable, parseScaleOutput, type SuiteInputs } from '../../bench/suite-table.ts';

const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const ROWS = 12;

const measured: SuiteInputs = {
  quick: false,
  engine: {
    files: 50_500,
    openFiles: 1024,
    first: { seconds: 240, maxRssMB: 900, records: 50_500, hashedFiles: 50_500, written: 101_000 },
    rerun: { seconds: 2.5, maxRssMB: 380, sidecarReads: 0 },
  },
  enginePreviews: {
    files: 50_500,
    openFiles: 1024,
    previews: 2,
    first: { seconds: 300, maxRssMB: 900, records: 50_500 },
    rerun: { seconds: 3.4, maxRssMB: 420, sidecarReads: 0, medianOf: 3 },
  },
  previewsSmall: { files: 1010, previews: 2, rateLimit: 100, seconds: 12, secondsPer1000: 11.9, maxRssKB: 300_000, records: 1010, identified: 1010, downloaded: 2020, failed: 0, apiRequests: 22, cdnRate: 250, rawRate: 400 },
  previewsLarge: { files: 10_100, previews: 2, rateLimit: 1_000_000, seconds: 150, secondsPer1000: 14.9, maxRssKB: 900_000, records: 10_100, identified: 10_100, downloaded: 20_200, failed: 0, apiRequests: 202, cdnRate: 150, rawRate: 400 },
  site: { models: 5000, bareCold: { buildSeconds: 7 }, bareWarm: { buildSeconds: 7 }, cold: { buildSeconds: 40 }, warm: { buildSeconds: 12 } },
  seed: {
    files: 105,
    latencyMs: 200,
    cold: [
      { latencyMs: 200, ours: { seconds: 4, exit: 0 }, seed: { seconds: 48, exit: 0 } },
      { latencyMs: 0, ours: { seconds: 2, exit: 0 }, seed: { seconds: 3.5, exit: 0 } },
    ],
    warm: { ours: 0.4, seed: 0.45 },
  },
  hash: { cores: 2, opensslCore: 1.8, ceiling: 3.6, defaultTypes: ['SHA256', 'AutoV2', 'AutoV1'], poolDefault: 3.2, progress: { bytes: 8 * 1024 ** 3, seconds: 5, updates: 40, maxGapSeconds: 0.3 } },
};

describe('the scale suite table', () => {
  it('prints every row, with figure, baseline, ratio, target and verdict', () => {
    const rows = buildRows(measured);
    expect(rows).toHaveLength(ROWS);
    expect(rows.map((row) => row.verdict)).toEqual(['met', 'not met', 'met', 'not met', 'met', 'not met', 'met', 'not met', 'met', 'met', 'met', 'met']);
    const byName = (start: string) => rows.find((row) => row.row.startsWith(start));
    expect(byName('astro build, cold')?.ratio).toBe('5.71× bare');
    expect(byName('side by side')?.ratio).toBe('12.0× faster');
    expect(byName('engine, cold, 10,100 files with previews')?.ratio).toBe('1.25×');
    expect(byName('engine, no-change rerun, 50,500 files with 2 previews each')?.figure).toBe('3.40 s, 420 MB');
    const table = formatTable(rows).split('\n');
    expect(table).toHaveLength(ROWS + 2);
    expect(table.filter((line) => !line.startsWith('|---')).every((line) => line.split(' | ').length === 6)).toBe(true);
  });

  it('prints every row when nothing ran, and says why where a part failed or was skipped', () => {
    const empty = buildRows({ quick: true });
    expect(empty).toHaveLength(ROWS);
    expect(new Set(empty.map((row) => row.verdict))).toEqual(new Set(['skipped']));
    const partly = buildRows({ quick: true, site: { error: 'bench/site.ts exited 1: out of memory' }, seed: { skipped: 'no --seed DIR' } });
    expect(partly).toHaveLength(ROWS);
    expect(partly.filter((row) => row.verdict === 'failed').map((row) => row.note)).toEqual(['bench/site.ts exited 1: out of memory', 'bench/site.ts exited 1: out of memory']);
    expect(partly.filter((row) => row.note === 'no --seed DIR')).toHaveLength(3);
  });

  it('reads what bench/scale.ts prints', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bench', 'scale.ts'), '--files', '20'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    const parsed = parseScaleOutput(stdout.split('\n'), 20, 1024);
    expect(parsed?.first).toMatchObject({ records: 20, hashedFiles: 20 });
    expect(parsed?.first.seconds).toBeGreaterThan(0);
    expect(parsed?.rerun?.maxRssMB).toBeGreaterThan(0);
    expect(buildRows({ quick: true, ...(parsed ? { engine: parsed } : {}) }).filter((row) => row.row.startsWith('engine, ') && row.verdict !== 'skipped')).toHaveLength(2);
    expect(buildRows({ quick: true, ...(parsed ? { engine: parsed, enginePreviews: { ...parsed, previews: 2 } } : {}) }).filter((row) => row.row.startsWith('engine, ') && row.verdict !== 'skipped')).toHaveLength(3);
  });
});
