/**
 * Child process for hash-pool.test.ts: aborts a pool while its threads are hashing, waits a few
 * milliseconds (so the threads' answers to the cancel race with close()), closes it, prints
 * "closed". Node exits with 13 instead when close() leaves a promise that nothing keeps alive.
 */
import { createHashPool } from '../../src/integration/engine/scan/hash-pool.ts';

const [file, waitArg] = process.argv.slice(2);
if (!file) throw new Error('usage: pool-close-child.ts <file> <wait ms>');
const controller = new AbortController();
const pool = createHashPool({ threads: 2, signal: controller.signal });
await pool.ready();
const running = [file, file].map((each) => pool.hash({ path: each, types: ['SHA256', 'BLAKE3'] }).catch(() => undefined));
setTimeout(() => controller.abort(), 20);
await Promise.all(running);
await new Promise((resolve) => setTimeout(resolve, Number(waitArg ?? 0)));
await pool.close();
process.stdout.write('closed\n');
