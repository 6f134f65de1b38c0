/**
 * `npm run bench`: every benchmark, one after the other (they measure; tests assert).
 *   hash.ts  hashing throughput beside OpenSSL's ceiling and hash-wasm, and a rerun via the ledger
 *   scale.ts the engine on 50,000 tiny files: first run and no-change rerun (seconds, peak RSS,
 *            sidecar reads); `node bench/scale.ts --files 5000` for a quick one
 *   site.ts  a 10,000-model gallery: build time, peak RSS, first-load bytes, filter latency,
 *            and a warm rebuild (thumbnails re-encoded: should be 0)
 * Each takes its own options when run alone: `node bench/hash.ts --size-gb 8`,
 * `node bench/site.ts --models 2000`.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

for (const name of ['hash.ts', 'scale.ts', 'site.ts']) {
  process.stdout.write(`\n=== ${name} ===\n`);
  const result = spawnSync(process.execPath, [fileURLToPath(new URL(name, import.meta.url))], { stdio: 'inherit' });
  if (result.status !== 0) process.exitCode = result.status ?? 1;
}
