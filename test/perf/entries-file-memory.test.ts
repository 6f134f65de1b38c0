/**
 * The site's entries file at 50,000 models is about 120 MB. It is encoded entry by entry into
 * 1 MiB pieces and written piece by piece (site/sync.ts `EntriesFileBytes`, writeFileAtomic with
 * pieces) instead of being one string, one joined string and one buffer of three bytes a
 * character: those copies were most of a cold build's peak memory. The bytes must be exactly
 * what one JSON.stringify of the whole file gives, wherever a piece ends (inside a run of
 * multi-byte characters too), and an unchanged file must still be left alone.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/integration/engine/util/atomic-write.ts';
import { ENTRIES_FORMAT } from '../../src/integration/site/entries.ts';
import { EntriesFileBytes } from '../../src/integration/site/sync.ts';
import { TMP_BASE } from '../hardening/helpers.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(TMP_BASE, 'cs-entries-file-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Entries of every width of UTF-8: ASCII, Latin-1, CJK (3 bytes) and emoji (4 bytes, a surrogate pair). */
function entries(count: number): { id: string; data: { name: string; description: string } }[] {
  const texts = ['plain text ', 'Ünïcödé café ', '赛博朋克风格 ', '🎨🖌️✨ ', 'mixed 漢字 and 🐉 '];
  return Array.from({ length: count }, (_, index) => ({
    id: `model-${index}`,
    // Lengths that drift against the 1 MiB pieces, so boundaries land everywhere.
    data: { name: `Model ${index}`, description: (texts[index % texts.length] as string).repeat(20 + (index % 37)) },
  }));
}

describe('the entries file in pieces', () => {
  it('has the bytes of one JSON.stringify of the whole, with pieces ending inside multi-byte text', () => {
    const list = entries(6_000);
    const problems = [{ where: 'loras/odd.safetensors', path: '/library/odd.safetensors', stage: 'hash', message: 'not a model file: 😬' }];
    const file = new EntriesFileBytes();
    for (const entry of list) file.add(JSON.stringify(entry));
    const pieces = file.finish(problems);
    expect(pieces.length).toBeGreaterThan(3);
    const whole = Buffer.from(`${JSON.stringify({ format: ENTRIES_FORMAT, entries: list, problems })}\n`, 'utf8');
    expect(Buffer.concat(pieces).equals(whole)).toBe(true);
    // No piece ends inside a character: each one decodes on its own.
    for (const piece of pieces) expect(Buffer.from(piece.toString('utf8'), 'utf8').equals(piece)).toBe(true);
  });

  it('is written piece by piece as one file, and left alone when it has not changed', async () => {
    const file = new EntriesFileBytes();
    for (const entry of entries(3_000)) file.add(JSON.stringify(entry));
    const pieces = file.finish([]);
    const target = path.join(root, 'site-entries.json');
    expect(await writeFileAtomic(target, pieces, { skipIfUnchanged: true })).toBe('written');
    expect((await readFile(target)).equals(Buffer.concat(pieces))).toBe(true);
    const before = await stat(target);
    expect(await writeFileAtomic(target, pieces, { skipIfUnchanged: true })).toBe('unchanged');
    expect((await stat(target)).mtimeMs).toBe(before.mtimeMs);
    // The same size with one byte changed in the last piece is a change.
    const changed = pieces.map((piece) => Buffer.from(piece));
    const last = changed.at(-1) as Buffer;
    last[last.length - 3] = 0x20;
    expect(await writeFileAtomic(target, changed, { skipIfUnchanged: true })).toBe('written');
    expect((await readFile(target)).equals(Buffer.concat(changed))).toBe(true);
  });
});
