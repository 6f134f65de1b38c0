/**
 * `npm run bench [-- --suite scale|details] [options]`
 *
 *   scale    (the default) the scale suite, bench/suite.ts: every row of the big-library table
 *            measured in one run beside its same-run baseline, printed as one table. Options
 *            go to it: `--quick` (small sizes, a smoke run), `--seed DIR` (a checkout of the
 *            seed's CivitScraper, side by side), `--only engine,previews,site,seed,hash`,
 *            `--dir PATH`, `--json FILE`.
 *   details  the detailed benches one after the other, each with all of its output:
 *            hash.ts  hashing throughput beside OpenSSL's ceiling and hash-wasm, a rerun via the
 *                     ledger, progress on one large file
 *            scale.ts the engine on 50,000 tiny files: first run and no-change rerun (seconds,
 *                     peak RSS, sidecar reads); `node bench/scale.ts --files 5000` for a quick one
 *            site.ts  a 10,000-model gallery: build time beside a bare Astro build, peak RSS,
 *                     first-load bytes, filter latency in Chromium, and a warm rebuild
 * Each bench also runs alone with its own options: `node bench/hash.ts --size-gb 8`,
 * `node bench/site.ts --models 2000`, `node bench/cdn.ts --files 1010`,
 * `node bench/seed.ts --seed DIR`.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const at = argv.indexOf('--suite');
const suite = at >= 0 ? argv[at + 1] : 'scale';
const rest = at >= 0 ? [...argv.slice(0, at), ...argv.slice(at + 2)] : argv;
const run = (name: string, options: string[]) => {
  const result = spawnSync(process.execPath, [fileURLToPath(new URL(name, import.meta.url)), ...options], { stdio: 'inherit' });
  if (result.status !== 0) process.exitCode = result.status ?? 1;
};

if (suite === 'scale') {
  run('suite.ts', rest);
} else if (suite === 'details' && rest.length > 0) {
  process.stderr.write(`npm run bench -- --suite details takes no options (${rest.join(' ')}); run a bench alone for its own, e.g. node bench/scale.ts --files 5000\n`);
  process.exitCode = 2;
} else if (suite === 'details') {
  for (const name of ['hash.ts', 'scale.ts', 'site.ts']) {
    process.stdout.write(`\n=== ${name} ===\n`);
    run(name, []);
  }
} else {
  process.stderr.write(`npm run bench: unknown --suite "${suite ?? ''}"; use --suite scale (the default) or --suite details\n`);
  process.exitCode = 2;
}
