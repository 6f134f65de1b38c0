/**
 * The CLI holds V8's young generation at 32 MB while a scan runs (engine/util/young-generation.ts):
 * a run builds long-lived objects in bulk, which made V8 grow it to 128 MB. Each case is a fresh
 * Node process, since a test worker's young generation has grown with the tests before it.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const MODULE = path.resolve(fileURLToPath(new URL('../../src/integration/engine/util/young-generation.ts', import.meta.url)));
const MB = 1024 * 1024;

/**
 * Keeps 200 MB of small objects alive, made a slice at a time the way a run makes its records
 * (between awaits), and reports the largest young generation seen, inside and after.
 */
const SCRIPT = `
import v8 from 'node:v8';
import { setImmediate as tick } from 'node:timers/promises';
const { withYoungGenerationHeld } = await import(${JSON.stringify(MODULE)});
const young = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size;
const kept = [];
const build = async () => {
  let largest = 0;
  for (let slice = 0; slice < 200; slice += 1) {
    for (let i = 0; i < 10000; i += 1) kept.push({ slice, i, name: 'file-' + slice + '-' + i, hashes: { a: i * 2, b: i * 3 } });
    largest = Math.max(largest, young());
    await tick();
  }
  return largest;
};
const held = process.env.YOUNG_MODE === 'held';
const largest = held ? await withYoungGenerationHeld(build) : await build();
// Afterwards V8 grows it again as it would have (the CLI's site build runs Astro next).
const after = held && process.env.YOUNG_AFTER === '1' ? await build() : 0;
console.log(JSON.stringify({ largest, after }));
`;

async function largestYoung(mode: 'held' | 'free', env: NodeJS.ProcessEnv = {}): Promise<{ largest: number; after: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', SCRIPT], {
    env: { ...process.env, NODE_OPTIONS: '', YOUNG_MODE: mode, ...env },
    maxBuffer: 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as { largest: number; after: number };
}

describe('withYoungGenerationHeld', () => {
  it('stops the young generation growing past 32 MB (one step of slack), where it grows to 128 MB unheld, and lets it grow again afterwards', async () => {
    const [held, free] = await Promise.all([largestYoung('held', { YOUNG_AFTER: '1' }), largestYoung('free')]);
    expect(held.largest).toBeLessThanOrEqual(2 * 32 * MB);
    expect(free.largest).toBeGreaterThan(2 * 32 * MB);
    expect(held.after).toBeGreaterThan(2 * 32 * MB);
  });

  it('leaves a growth setting of the user’s own alone', async () => {
    const held = await largestYoung('held', { NODE_OPTIONS: '--max-semi-space-size=64' });
    expect(held.largest).toBeGreaterThan(2 * 32 * MB);
  });
});
