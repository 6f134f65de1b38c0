/**
 * `npm run compile`: the package's JavaScript in dist/, as it is published.
 *
 * tsc writes one .js and one .d.ts per source file (tsconfig.build.json). The files Astro
 * compiles in the host site (.astro components and routes, the gallery's browser scripts and
 * CSS) are copied as they are, with their relative `.ts` imports pointed at the `.js` files
 * beside them, as tsc does for the rest.
 *
 * Every `npm run demo|dev|build|test` compiles first; when nothing that goes into dist/ changed
 * since the last build (a fingerprint of the sources, configs and the TypeScript version, kept
 * in dist/), the build is skipped: tsc costs seconds, the check milliseconds. `--force` builds
 * anyway.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const dist = path.join(root, 'dist');
// Built beside dist/ and swapped in at the end: a test or a dev server that is reading dist/
// meanwhile never finds it half-written or missing.
const next = path.join(root, `.dist-${process.pid}`);
const copied = /\.(astro|css|js)$/;
const RELATIVE_TS = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g;
/** In dist/, left out of the package (`files` in package.json). */
const FINGERPRINT = '.build-inputs';

/** What dist/ is made from: every file under the source folders, the configs, tsc's version. */
async function fingerprint(): Promise<string> {
  const hash = createHash('sha256');
  const files: string[] = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build-package.ts', 'node_modules/typescript/package.json'];
  for (const folder of ['src/integration', 'src/components']) {
    for (const entry of await readdir(path.join(root, folder), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files.push(path.relative(root, path.join(entry.parentPath, entry.name)));
    }
  }
  for (const file of files.sort()) {
    hash.update(`${file}\0`);
    hash.update(await readFile(path.join(root, file)).catch(() => Buffer.from('(missing)')));
    hash.update('\0');
  }
  return hash.digest('hex');
}

const inputs = await fingerprint();
if (!process.argv.includes('--force')) {
  const built = await readFile(path.join(dist, FINGERPRINT), 'utf8').catch(() => undefined);
  if (built === inputs) {
    process.stdout.write('dist/ is up to date (no source changed since it was built; --force builds anyway)\n');
    process.exit(0);
  }
}

await rm(next, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json'), '--outDir', next], {
    stdio: 'inherit',
  });
} catch {
  // tsc has printed what is wrong.
  await rm(next, { recursive: true, force: true });
  process.stderr.write('compile: tsc failed (see above); dist/ is left as it was.\n');
  process.exit(1);
}

let files = 0;
for (const folder of ['src/integration', 'src/components']) {
  for (const entry of await readdir(path.join(root, folder), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !copied.test(entry.name)) continue;
    const from = path.join(entry.parentPath, entry.name);
    const to = path.join(next, path.relative(path.join(root, 'src'), from));
    await mkdir(path.dirname(to), { recursive: true });
    if (entry.name.endsWith('.astro')) {
      const text = await readFile(from, 'utf8');
      await writeFile(to, text.replace(RELATIVE_TS, (_m, lead: string, quote: string, spec: string) => `${lead}${quote}${spec}.js${quote}`));
    } else {
      await cp(from, to);
    }
    files += 1;
  }
}
await writeFile(path.join(next, FINGERPRINT), inputs);
const old = `${dist}.old-${process.pid}`;
await rename(dist, old).catch((error: NodeJS.ErrnoException) => {
  if (error.code !== 'ENOENT') throw error;
});
await rename(next, dist);
await rm(old, { recursive: true, force: true });
process.stdout.write(`compiled src/integration into dist/ (+${files} .astro, browser script and CSS files copied)\n`);
