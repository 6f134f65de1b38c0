/**
 * `npm run dev`: the demo, live. A fresh sample library and fake CivitAI (as `npm run demo`
 * makes them), then `astro dev` over this repository's site; add, change or delete a model file
 * under demo/library and the gallery follows. Ctrl-C stops both.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PACKAGE_ROOT } from '../integration/cli/build-site.ts';
import { prepareDemo } from './demo.ts';

const { configPath, libraryDir, fake } = await prepareDemo();
process.stdout.write(`demo library: ${libraryDir}\nfake CivitAI: ${fake.apiBaseUrl}\n`);
const astro = path.join(PACKAGE_ROOT, 'node_modules', 'astro', 'bin', 'astro.mjs');
const child = spawn(process.execPath, [astro, 'dev', ...process.argv.slice(2)], {
  cwd: PACKAGE_ROOT,
  stdio: 'inherit',
  env: { ...process.env, CIVITSCRAPER_CONFIG: configPath },
});
// Ctrl-C reaches astro too (same process group); the fake server closes when it has exited.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', async (code, signal) => {
  await fake.close();
  process.exit(code ?? (signal ? 130 : 1));
});
