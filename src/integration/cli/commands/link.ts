/**
 * `civitscraper link FILE VERSION` / `civitscraper link --remove FILE`: a manual link from a file
 * to a model version, kept by the file's SHA-256 under scanner.cache_dir (links.json), so a
 * rename or move keeps it. The next scan fetches the version by id and marks the record
 * "linked by hand". The file's SHA-256 comes from the hash ledger when the file is unchanged,
 * else the file is read once.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { hashFile } from '../../engine/scan/hash.ts';
import { LinkRefError, linksPath, parseVersionRef, readLinks, writeLinks } from '../../engine/sources/links.ts';
import { openStateStore, type StateStore } from '../../engine/state/index.ts';
import type { CliContext } from '../context.ts';
import { EXIT, UsageError } from '../exit.ts';
import type { CommandResult } from './shared.ts';

export async function linkCommand(ctx: CliContext): Promise<CommandResult> {
  const [fileArg, versionArg] = ctx.args.linkArgs;
  if (!fileArg) throw new UsageError('usage: civitscraper link FILE VERSION');
  const file = path.resolve(fileArg);
  let versionId: number | undefined;
  if (!ctx.args.remove) {
    try {
      versionId = parseVersionRef(versionArg ?? '');
    } catch (error) {
      if (error instanceof LinkRefError) throw new UsageError(error.message);
      throw error;
    }
  }
  let info;
  try {
    info = await stat(file);
  } catch {
    ctx.logger.error(`${file}: no such file`);
    return { exitCode: EXIT.filesFailed, json: { error: `${file}: no such file` } };
  }
  if (!info.isFile()) {
    ctx.logger.error(`${file}: not a file`);
    return { exitCode: EXIT.filesFailed, json: { error: `${file}: not a file` } };
  }
  const sha256 = await sha256Of(ctx, file, info);
  const cacheDir = ctx.config.scanner.cache_dir;
  const store = await readLinks(cacheDir);
  if (ctx.args.remove) {
    const had = store.links[sha256];
    if (!had) {
      ctx.logger.info(`no manual link for ${file}`);
      return { exitCode: EXIT.ok, json: { removed: false, file, sha256 } };
    }
    delete store.links[sha256];
    if (!ctx.dryRun) await writeLinks(store);
    ctx.logger.info(`${ctx.dryRun ? 'would remove' : 'removed'} the link of ${file} to version ${had.versionId}; the next scan identifies it by hash`);
    return { exitCode: EXIT.ok, json: { removed: true, file, sha256, versionId: had.versionId } };
  }
  store.links[sha256] = { versionId: versionId as number, ref: String(versionArg), path: file, linkedAt: new Date().toISOString() };
  if (!ctx.dryRun) await writeLinks(store);
  ctx.logger.info(
    `${ctx.dryRun ? 'would link' : 'linked'} ${file} (SHA-256 ${sha256.slice(0, 12)}…) to version ${versionId} in ${linksPath(cacheDir)}; the next scan uses it`,
  );
  return { exitCode: EXIT.ok, json: { linked: true, file, sha256, versionId } };
}

async function sha256Of(ctx: CliContext, file: string, info: { dev: number; ino: number; size: number; mtimeMs: number }): Promise<string> {
  let state: StateStore | undefined;
  try {
    state = openStateStore(ctx.config.scanner.cache_dir, { logger: ctx.logger });
    const hit = state.ledger.find({ dev: info.dev, ino: info.ino, size: info.size, mtimeMs: info.mtimeMs, path: file });
    const known = hit?.entry.hashes.SHA256;
    if (known) return known.toUpperCase();
  } catch {
    // No store: read the file.
  } finally {
    state?.close();
  }
  ctx.logger.info(`reading ${file} for its SHA-256`);
  const result = await hashFile(file, { types: ['SHA256'], signal: ctx.interrupt.signal });
  return String(result.hashes.SHA256).toUpperCase();
}
