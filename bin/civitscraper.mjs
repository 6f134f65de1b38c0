#!/usr/bin/env node
// Entry point of the `civitscraper` command. The engine needs Node >= 22.12 (Astro 7, native
// TypeScript); when started by an older system Node, re-run this file on the Node version the
// project pins as a devDependency (node_modules/node), so the command works the same from a
// shell, from cron and from npm scripts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
const here = dirname(fileURLToPath(import.meta.url));

if (major < 22 || (major === 22 && minor < 12)) {
  const pinned = join(here, '..', 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(pinned)) {
    process.stderr.write(
      `civitscraper needs Node.js 22.12 or newer (this is ${process.version}). Run \`npm ci\` in ${join(here, '..')} first: it installs the pinned Node.\n`,
    );
    process.exit(2);
  }
  const child = spawn(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches both processes (same process group): this one waits for the child to save its
  // work and exit 130. Termination signals sent to this process alone are passed on.
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
} else {
  const { main } = await import('../src/integration/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}

