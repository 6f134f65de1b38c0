#!/usr/bin/env node
// Entry point of the `civitscraper` command: the compiled CLI in dist/. The engine needs Node
// >= 22.12 (Astro 7). In a clone of the repository started by an older system Node, it re-runs
// itself on the Node the project pins as a devDependency (node_modules/node), so the command
// works the same from a shell, from cron and from npm scripts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import module from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, '..');

if (major < 22 || (major === 22 && minor < 12)) {
  const pinned = join(packageDir, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(pinned)) {
    process.stderr.write(
      `civitscraper needs Node.js 22.12 or newer (this is ${process.version}). Install a newer Node.js (https://nodejs.org), then run the command again.\n`,
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
  const compiled = join(packageDir, 'dist', 'integration', 'cli', 'main.js');
  if (!existsSync(compiled)) {
    process.stderr.write(`civitscraper: ${compiled} is missing. In a clone of the repository, run \`npm run compile\` first.\n`);
    process.exit(2);
  }
  // A run loads a few hundred modules (zod, yaml, the engine): V8's compiled code is kept on disk
  // (the OS temp folder, keyed by file contents) so the next start skips most of the compiling.
  // NODE_DISABLE_COMPILE_CACHE=1 turns it off.
  module.enableCompileCache?.();
  const { main } = await import('../dist/integration/cli/main.js');
  process.exitCode = await main(process.argv.slice(2));
}
