import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export type WriteOutcome = 'written' | 'unchanged';

/**
 * Writes a file so that a reader (or a crash) only ever sees the old or the new content: data
 * goes to a temporary file in the same folder, is flushed to disk, then renamed over the target.
 * Identical content is not rewritten, so a rerun leaves mtimes alone.
 */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  options: { skipIfUnchanged?: boolean } = {},
): Promise<WriteOutcome> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  if (options.skipIfUnchanged !== false) {
    const current = await readFile(target).catch(() => undefined);
    if (current && current.equals(bytes)) return 'unchanged';
  }
  const folder = dirname(target);
  await mkdir(folder, { recursive: true });
  const temporary = join(folder, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temporary, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return 'written';
}

/** JSON the way sidecars are written: 2-space indent, UTF-8 kept as is, trailing newline. */
export function toJsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
