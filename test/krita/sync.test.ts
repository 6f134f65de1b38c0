import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  applyKritaSyncPlan,
  computeKritaSync,
  KritaSyncError,
  planKritaSync,
  syncKritaTriggers,
  type KritaSyncReport,
  type MergePolicy,
} from '../../src/integration/engine/krita/index.ts';
import type { ModelRecord } from '../../src/integration/engine/records/schema.ts';
import {
  backupsIn,
  FIXTURES,
  fileState,
  library,
  metadataOf,
  readLikeKrita,
  record,
  sandbox,
  type Sandbox,
} from './records.ts';

const boxes: Sandbox[] = [];
afterEach(async () => {
  await Promise.all(boxes.splice(0).map((box) => box.cleanup()));
});

async function box(fixture?: string): Promise<Sandbox> {
  const created = await sandbox(fixture);
  boxes.push(created);
  return created;
}

async function sync(file: string, policy: MergePolicy, records: readonly ModelRecord[] = library().records, extra: { strength?: number; dryRun?: boolean } = {}) {
  return syncKritaTriggers({ lorasFile: file, records, policy, dryRun: extra.dryRun ?? false, ...(extra.strength !== undefined ? { strength: extra.strength } : {}) });
}

const fixtureText = (name: string) => readFile(path.join(FIXTURES, name), 'utf8');
const byId = (report: KritaSyncReport, id: string) => report.entries.find((entry) => entry.id === id);

describe('fill-empty (the default policy)', () => {
  it('produces exactly the expected file: only empty triggers filled, everything else byte for byte', async () => {
    const { file } = await box();
    const report = await sync(file, 'fill-empty');
    expect(report.outcome).toBe('written');
    expect(await readFile(file, 'utf8')).toBe(await fixtureText('loras.fill-empty.expected.json'));
  });

  it('reports how each entry matched and what happened to it', async () => {
    const { file } = await box();
    const report = await sync(file, 'fill-empty');
    const summary = report.entries.map((entry) => [entry.id, entry.match, entry.action]);
    expect(summary).toEqual([
      ['SDXL\\Style\\Pixel_Art_XL.safetensors', 'path', 'updated'],
      ['sd15/characters/hatsune-miku.safetensors', 'path', 'kept'],
      ['detail_tweaker.safetensors', 'hash', 'updated'],
      ['flux/Flux_Realism.safetensors', 'path', 'updated'],
      ['sakura.safetensors', 'path', 'updated'],
      ['misc\\add_detail.safetensors', 'name', 'updated'],
      ['SD15\\other\\not-ours.safetensors', 'none', 'unmatched'],
      ['mystery.safetensors', 'name', 'no-triggers'],
      ['styles/watercolor.safetensors', 'path', 'updated'],
    ]);
    expect(report.counts).toEqual({
      entries: 9,
      matched: 8,
      byPath: 5,
      byHash: 1,
      byName: 2,
      unmatched: 1,
      ambiguous: 0,
      invalid: 0,
      updated: 6,
      unchanged: 0,
      kept: 1,
      noTriggers: 1,
      recordsUnmatched: 1,
    });
    expect(report.unmatchedEntries).toEqual(['SD15\\other\\not-ours.safetensors']);
    expect(report.unmatchedRecords).toEqual(['poses/dynamic-pose.safetensors']);
    expect(byId(report, 'detail_tweaker.safetensors')?.records).toEqual(['downloads/detail-tweaker-v2.safetensors']);
    expect(byId(report, 'SDXL\\Style\\Pixel_Art_XL.safetensors')).toMatchObject({ triggersBefore: '', triggersAfter: 'pixel art, pixelated' });
  });
});

describe('replace and append', () => {
  it('replace overwrites what the user typed, leaves unmatched entries and entries without triggers alone', async () => {
    const { file } = await box();
    const report = await sync(file, 'replace');
    const entries = readLikeKrita(await readFile(file, 'utf8'));
    expect(metadataOf(entries, 'sd15/characters/hatsune-miku.safetensors')).toEqual({
      lora_triggers: 'hatsune miku, twintails, aqua hair',
      lora_strength: 0.8,
    });
    expect(metadataOf(entries, 'SD15\\other\\not-ours.safetensors')).toEqual({ lora_triggers: 'mystery style' });
    expect(metadataOf(entries, 'mystery.safetensors')).toBeUndefined();
    expect(metadataOf(entries, 'styles/watercolor.safetensors')).toEqual({ lora_triggers: 'watercolor', lora_strength: 1 });
    expect(report.counts.updated).toBe(7);
    expect(report.counts.kept).toBe(0);
  });

  it('append adds only the missing words (case-insensitive) after the user text', async () => {
    const { file } = await box();
    await writeFile(file, (await readFile(file, 'utf8')).replace('"miku, twintails"', '"miku, Twintails,"'));
    await sync(file, 'append');
    const entries = readLikeKrita(await readFile(file, 'utf8'));
    expect(metadataOf(entries, 'sd15/characters/hatsune-miku.safetensors')?.lora_triggers).toBe('miku, Twintails, hatsune miku, aqua hair');
    // The seed's raw list becomes a string Krita can use, merged with ours.
    expect(metadataOf(entries, 'styles/watercolor.safetensors')?.lora_triggers).toBe('watercolor, wet paint');
    expect(metadataOf(entries, 'flux/Flux_Realism.safetensors')?.lora_triggers).toBe('realism, photo');
  });

  it('append with every word already present changes nothing', async () => {
    const { file } = await box();
    const records = [record('sd15/characters/hatsune-miku.safetensors', ['TWINTAILS', 'miku'])];
    const before = await fileState(file);
    const report = await sync(file, 'append', records);
    expect(report.outcome).toBe('unchanged');
    expect(byId(report, 'sd15/characters/hatsune-miku.safetensors')?.action).toBe('unchanged');
    expect((await fileState(file)).bytes.equals(before.bytes)).toBe(true);
  });

  it('never clears triggers when CivitAI has none', async () => {
    const { file } = await box();
    const records = [record('sd15/characters/hatsune-miku.safetensors', [])];
    const report = await sync(file, 'replace', records);
    expect(report.outcome).toBe('unchanged');
    expect(byId(report, 'sd15/characters/hatsune-miku.safetensors')?.action).toBe('no-triggers');
  });
});

describe('lora_strength', () => {
  it('is only written when asked; replace overwrites it, as a Python float', async () => {
    const { file } = await box();
    await sync(file, 'replace', library().records, { strength: 0.7 });
    const text = await readFile(file, 'utf8');
    const entries = readLikeKrita(text);
    expect(metadataOf(entries, 'sd15/characters/hatsune-miku.safetensors')?.lora_strength).toBe(0.7);
    expect(metadataOf(entries, 'flux/Flux_Realism.safetensors')).toEqual({ lora_triggers: 'realism, photo', lora_strength: 0.7 });
    expect(metadataOf(entries, 'SD15\\other\\not-ours.safetensors')).toEqual({ lora_triggers: 'mystery style' });
  });

  it('fill-empty only sets it where it is missing, and writes 1 as 1.0', async () => {
    const { file } = await box();
    await sync(file, 'fill-empty', library().records, { strength: 1 });
    const text = await readFile(file, 'utf8');
    const entries = readLikeKrita(text);
    expect(metadataOf(entries, 'sd15/characters/hatsune-miku.safetensors')?.lora_strength).toBe(0.8);
    expect(metadataOf(entries, 'sakura.safetensors')?.lora_strength).toBe(0.65);
    expect(text).toContain('"flux/Flux_Realism",\n    "source": 2,\n    "format": "lora",\n    "metadata": {\n      "lora_triggers": "realism, photo",\n      "lora_strength": 1.0\n    }\n  },');
    // The entry without triggers still gets a strength.
    expect(metadataOf(entries, 'mystery.safetensors')).toEqual({ lora_strength: 1 });
  });
});

describe('dry run', () => {
  it('writes nothing and returns a unified diff of what would change', async () => {
    const { dir, file } = await box();
    const before = await fileState(file);
    const report = await sync(file, 'fill-empty', library().records, { dryRun: true });
    const after = await fileState(file);
    expect(report.outcome).toBe('dry-run');
    expect(after.bytes.equals(before.bytes)).toBe(true);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(await readdir(dir)).toEqual(['loras.json']);
    expect(report.backupPath).toBeUndefined();

    const diff = report.diff;
    expect(diff.startsWith(`--- ${file}\n+++ ${file} (synced)\n@@ -6,7 +6,7 @@\n`)).toBe(true);
    expect(diff).toContain('\n-      "lora_triggers": "",\n+      "lora_triggers": "pixel art, pixelated",\n');
    expect(diff).toContain('\n-    "size": 151112\n+    "size": 151112,\n+    "metadata": {\n+      "lora_triggers": "detailed"\n+    }\n');
    expect(diff).toContain('\n-      "lora_triggers": [\n-        "watercolor",\n-        "wet paint,"\n-      ],\n+      "lora_triggers": "watercolor, wet paint",\n');
    // Unchanged entries are not in the diff (at most as context).
    const changed = diff.split('\n').filter((line) => /^[-+][^-+]/.test(line));
    expect(changed).toHaveLength(24);
    expect(changed.join('\n')).not.toMatch(/mystery|miku/);
    expect(diff).not.toContain('"miku, twintails"');
    // Applying the diff's + and - lines gives the same file a real run writes.
    const removed = diff.split('\n').filter((line) => line.startsWith('-') && !line.startsWith('---')).length;
    const added = diff.split('\n').filter((line) => line.startsWith('+') && !line.startsWith('+++')).length;
    const expected = await fixtureText('loras.fill-empty.expected.json');
    expect(expected.split('\n').length - before.bytes.toString('utf8').split('\n').length).toBe(added - removed);
  });

  it('hunk line numbers follow the lines added above them', async () => {
    const { file } = await box();
    const report = await sync(file, 'fill-empty', library().records, { dryRun: true });
    const headers = report.diff.split('\n').filter((line) => line.startsWith('@@'));
    const expected = (await fixtureText('loras.fill-empty.expected.json')).split('\n');
    for (const header of headers) {
      const match = /^@@ -\d+,\d+ \+(\d+),(\d+) @@$/.exec(header);
      expect(match).not.toBeNull();
      const start = Number(match?.[1]);
      const count = Number(match?.[2]);
      const body: string[] = [];
      const lines = report.diff.split('\n');
      for (let index = lines.indexOf(header) + 1; index < lines.length && !lines[index]?.startsWith('@@'); index += 1) {
        const line = lines[index] ?? '';
        if (line.startsWith(' ') || line.startsWith('+')) body.push(line.slice(1));
      }
      expect(body).toHaveLength(count);
      expect(expected.slice(start - 1, start - 1 + count)).toEqual(body);
    }
  });

  it('with nothing to change, reports unchanged and an empty diff', async () => {
    const { file } = await box();
    const report = await sync(file, 'fill-empty', [], { dryRun: true });
    expect(report.outcome).toBe('unchanged');
    expect(report.diff).toBe('');
  });
});

describe('backup and write', () => {
  it('backs up the original bytes beside the file before writing', async () => {
    const { dir, file } = await box();
    const original = await readFile(file);
    const report = await sync(file, 'fill-empty');
    const backups = await backupsIn(dir);
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(/^loras\.json\.bak-\d{8}T\d{6}Z$/);
    expect(report.backupPath).toBe(path.join(dir, backups[0] ?? ''));
    expect((await readFile(report.backupPath ?? '')).equals(original)).toBe(true);
    // Atomic replace: no temporary file left behind.
    expect((await readdir(dir)).sort()).toEqual([...backups, 'loras.json'].sort());
  });

  it('puts the backup in backupDir when given, and never overwrites an earlier backup', async () => {
    const { dir, file } = await box();
    const backupDir = path.join(dir, 'backups');
    const first = await syncKritaTriggers({ lorasFile: file, records: library().records, policy: 'fill-empty', dryRun: false, backupDir });
    const second = await syncKritaTriggers({ lorasFile: file, records: library().records, policy: 'replace', dryRun: false, backupDir });
    expect(path.dirname(first.backupPath ?? '')).toBe(backupDir);
    expect(second.backupPath).not.toBe(first.backupPath);
    expect(await readFile(second.backupPath ?? '', 'utf8')).toBe(await fixtureText('loras.fill-empty.expected.json'));
    expect(await backupsIn(dir)).toEqual([]);
  });

  it('does not write at all when nothing changes (bytes, mtime and inode identical, no backup)', async () => {
    const { dir, file } = await box();
    const before = await fileState(file);
    const report = await sync(file, 'fill-empty', [record('elsewhere/unrelated.safetensors', ['x'])]);
    const after = await fileState(file);
    expect(report.outcome).toBe('unchanged');
    expect(after).toEqual(before);
    expect(await backupsIn(dir)).toEqual([]);
  });
});

describe('round trip', () => {
  for (const policy of ['fill-empty', 'replace', 'append'] as const) {
    it(`${policy}: a second sync changes nothing, the file stays byte-identical`, async () => {
      const { dir, file } = await box();
      const first = await sync(file, policy, library().records, { strength: 0.9 });
      expect(first.outcome).toBe('written');
      const between = await fileState(file);
      const second = await sync(file, policy, library().records, { strength: 0.9 });
      const after = await fileState(file);
      expect(second.outcome).toBe('unchanged');
      expect(second.counts.updated).toBe(0);
      expect(second.diff).toBe('');
      expect(after).toEqual(between);
      expect(await backupsIn(dir)).toHaveLength(1);
    });
  }
});

describe('changed on disk', () => {
  it('writes nothing and warns when the file changed after it was read', async () => {
    const { dir, file } = await box();
    const plan = await planKritaSync({ lorasFile: file, records: library().records, policy: 'fill-empty', dryRun: false });
    const kritaVersion = (await readFile(file, 'utf8')).replace('"source": 0', '"source": 2');
    await writeFile(file, kritaVersion);
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (message: string) => warnings.push(message), error() {} };
    const report = await applyKritaSyncPlan({ ...plan, options: { ...plan.options, logger } });
    expect(report.outcome).toBe('changed-on-disk');
    expect(report.warnings).toHaveLength(1);
    expect(warnings.join('\n')).toMatch(/changed on disk.*Krita/);
    expect(await readFile(file, 'utf8')).toBe(kritaVersion);
    expect(await backupsIn(dir)).toEqual([]);
  });

  it('notices a same-size rewrite with the old mtime (content hash)', async () => {
    const { file } = await box();
    const before = await fileState(file);
    const plan = await planKritaSync({ lorasFile: file, records: library().records, policy: 'fill-empty', dryRun: false });
    const same = (await readFile(file, 'utf8')).replace('"source": 0', '"source": 3');
    expect(same.length).toBe(before.bytes.length);
    await writeFile(file, same);
    const seconds = before.mtimeMs / 1000;
    await utimes(file, seconds, seconds);
    expect((await fileState(file)).mtimeMs).toBe(before.mtimeMs);
    const report = await applyKritaSyncPlan(plan);
    expect(report.outcome).toBe('changed-on-disk');
    expect(await readFile(file, 'utf8')).toBe(same);
  });

  it('with force, applies our changes to the new content', async () => {
    const { file } = await box();
    const plan = await planKritaSync({ lorasFile: file, records: library().records, policy: 'fill-empty', dryRun: false, force: true });
    await writeFile(file, (await readFile(file, 'utf8')).replace('"source": 0', '"source": 2'));
    const report = await applyKritaSyncPlan(plan);
    expect(report.outcome).toBe('written');
    expect(report.warnings).toHaveLength(1);
    const expected = (await fixtureText('loras.fill-empty.expected.json')).replace('"source": 0', '"source": 2');
    expect(await readFile(file, 'utf8')).toBe(expected);
  });
});

describe('matching', () => {
  it('hash-only: Krita stores base64 of the raw SHA-256 digest', async () => {
    const digest = createHash('sha256').update('detail tweaker v2 bytes').digest();
    const { byName } = library();
    expect(digest.toString('hex').toUpperCase()).toBe(byName.tweaker.hashes.SHA256);
    const text = await fixtureText('loras.json');
    expect(text).toContain(`"hash": "${digest.toString('base64')}"`);
    // Same hash, nothing else in common: no path, no name.
    const renamed = { ...byName.tweaker, file: { ...byName.tweaker.file, path: '/elsewhere/x.safetensors', relativePath: 'x.safetensors', name: 'x.safetensors' } };
    const result = computeKritaSync(text, [renamed], 'fill-empty');
    expect(result.entries.find((entry) => entry.id === 'detail_tweaker.safetensors')).toMatchObject({ match: 'hash', action: 'updated' });
    // A different hash does not match.
    const other = { ...renamed, hashes: { SHA256: 'AB'.repeat(32) } };
    expect(computeKritaSync(text, [other], 'fill-empty').entries.every((entry) => entry.match !== 'hash')).toBe(true);
  });

  it('backslash ids match case-insensitively; POSIX ids case-sensitively', () => {
    const text = JSON.stringify([
      { id: 'SDXL\\STYLE\\pixel_art_xl.safetensors', name: 'a' },
      { id: 'SDXL/STYLE/pixel_art_xl.safetensors', name: 'b' },
    ], null, 2);
    const records = [record('SDXL/style/Pixel_Art_XL.safetensors', ['pixel art'])];
    const { entries } = computeKritaSync(text, records, 'fill-empty');
    expect(entries.map((entry) => entry.match)).toEqual(['path', 'none']);
  });

  it('ids relative to a ComfyUI loras folder below or above our input path match by path', () => {
    const text = JSON.stringify([
      { id: 'style\\pixel.safetensors', name: 'below' },
      { id: 'Lora/SDXL/style/pixel.safetensors', name: 'above' },
      { id: 'pixel.safetensors', name: 'name only', path: '/models/Lora/SDXL/style/pixel.safetensors' },
    ], null, 2);
    const records = [record('SDXL/style/pixel.safetensors', ['pixel art'])];
    const { entries } = computeKritaSync(text, records, 'fill-empty');
    expect(entries.map((entry) => entry.match)).toEqual(['path', 'path', 'path']);
  });

  it('path beats hash beats name', () => {
    const text = JSON.stringify([{ id: 'a/one.safetensors', name: 'a/one', hash: Buffer.from(SHA_B, 'hex').toString('base64') }], null, 2);
    const byPath = record('a/one.safetensors', ['path wins'], SHA_A);
    const byHash = record('b/two.safetensors', ['hash wins'], SHA_B);
    const byName = record('c/one.safetensors', ['name wins'], SHA_C);
    expect(computeKritaSync(text, [byName, byHash, byPath], 'fill-empty').entries[0]).toMatchObject({ match: 'path', triggersAfter: 'path wins' });
    expect(computeKritaSync(text, [byName, byHash], 'fill-empty').entries[0]).toMatchObject({ match: 'hash', triggersAfter: 'hash wins' });
    expect(computeKritaSync(text, [byName], 'fill-empty').entries[0]).toMatchObject({ match: 'name', triggersAfter: 'name wins' });
  });

  it('several different files with the entry name are ambiguous and left alone; copies are not', () => {
    const text = JSON.stringify([{ id: 'other/style.safetensors', name: 'other/style' }], null, 2);
    const a = record('x/style.safetensors', ['from x'], SHA_A);
    const b = record('y/style.safetensors', ['from y'], SHA_B);
    const ambiguous = computeKritaSync(text, [a, b], 'fill-empty');
    expect(ambiguous.entries[0]).toMatchObject({ match: 'ambiguous', action: 'ambiguous', records: ['x/style.safetensors', 'y/style.safetensors'] });
    expect(ambiguous.newText).toBe(text);
    const copy = record('y/style.safetensors', ['from x'], SHA_A);
    expect(computeKritaSync(text, [a, copy], 'fill-empty').entries[0]).toMatchObject({ match: 'name', action: 'updated' });
  });
});

const SHA_A = 'A'.repeat(64);
const SHA_B = 'B'.repeat(64);
const SHA_C = 'C'.repeat(64);

describe('preserving the file', () => {
  it('keeps unknown keys, key order and entry order', async () => {
    const { file } = await box();
    const before = readLikeKrita(await fixtureText('loras.json'));
    await sync(file, 'replace', library().records, { strength: 0.5 });
    const after = readLikeKrita(await readFile(file, 'utf8'));
    expect(after.map((entry) => entry.id)).toEqual(before.map((entry) => entry.id));
    after.forEach((entry, index) => {
      const original = before[index] ?? {};
      const { metadata: newMeta, ...rest } = entry;
      const { metadata: oldMeta, ...originalRest } = original;
      expect(rest).toEqual(originalRest);
      expect(Object.keys(rest)).toEqual(Object.keys(originalRest));
      const { lora_triggers: _t1, lora_strength: _s1, ...otherNew } = (newMeta ?? {}) as Record<string, unknown>;
      const { lora_triggers: _t2, lora_strength: _s2, ...otherOld } = (oldMeta ?? {}) as Record<string, unknown>;
      expect(otherNew).toEqual(otherOld);
    });
    expect(after.find((entry) => entry.id === 'sakura.safetensors')).toMatchObject({
      favourite: true,
      x_tags: ['flowers', 'spring'],
      metadata: { notes: 'Hanami – from a friend', lora_strength: 0.5, lora_triggers: '桜の花, café style, 1girl' },
    });
  });

  it('keeps // comment lines where they were', async () => {
    const { file } = await box();
    await sync(file, 'replace');
    const lines = (await readFile(file, 'utf8')).split('\n');
    expect(lines[0]).toBe('// Krita AI Diffusion LoRA database. Lines starting with // are ignored by the plugin.');
    const comment = lines.indexOf('  // Uploaded from this machine: the plugin stores the file name as id and a hash.');
    expect(comment).toBeGreaterThan(0);
    expect(lines[comment + 2]).toBe('    "id": "detail_tweaker.safetensors",');
  });

  it('writes non-ASCII as \\u escapes, like json.dumps', async () => {
    const { file } = await box();
    await sync(file, 'fill-empty');
    const bytes = await readFile(file);
    expect(bytes.every((byte) => byte < 0x80)).toBe(true);
    expect(bytes.toString('utf8')).toContain('"lora_triggers": "\\u685c\\u306e\\u82b1, caf\\u00e9 style, 1girl"');
  });

  it('follows the old plugin layout: indent=4 and Windows line breaks', async () => {
    const { file } = await box('loras-old-indent4.json');
    const crlf = (await readFile(file, 'utf8')).replace(/\n/g, '\r\n');
    await writeFile(file, crlf);
    const { byName } = library();
    await sync(file, 'fill-empty', [byName.pixel, byName.tweaker]);
    const text = await readFile(file, 'utf8');
    expect(text.replace(/\r\n/g, '')).not.toContain('\n');
    expect(text).toBe(
      crlf
        .replace(
          '"source": 2\r\n',
          '"source": 2,\r\n        "metadata": {\r\n            "lora_triggers": "pixel art, pixelated"\r\n        }\r\n',
        )
        .replace('"size": 151112\r\n', '"size": 151112,\r\n        "metadata": {\r\n            "lora_triggers": "detailed"\r\n        }\r\n'),
    );
  });

  it('edits single-line JSON inline', () => {
    const text = '[{"id": "a.safetensors", "name": "a"}, {"id": "b.safetensors", "metadata": {"lora_strength": 1.0}}]';
    const records = [record('a.safetensors', ['alpha']), record('b.safetensors', ['beta'])];
    expect(computeKritaSync(text, records, 'fill-empty').newText).toBe(
      '[{"id": "a.safetensors", "name": "a", "metadata": {"lora_triggers": "alpha"}}, {"id": "b.safetensors", "metadata": {"lora_strength": 1.0, "lora_triggers": "beta"}}]',
    );
  });

  it('replaces a null metadata and keeps invalid entries untouched', () => {
    const text = '[\n  {\n    "name": "no id"\n  },\n  {\n    "id": "a.safetensors",\n    "metadata": null\n  }\n]';
    const result = computeKritaSync(text, [record('a.safetensors', ['alpha'])], 'fill-empty');
    expect(result.entries.map((entry) => entry.action)).toEqual(['invalid', 'updated']);
    expect(result.newText).toBe('[\n  {\n    "name": "no id"\n  },\n  {\n    "id": "a.safetensors",\n    "metadata": {\n      "lora_triggers": "alpha"\n    }\n  }\n]');
  });

  const python = (() => {
    try {
      execFileSync('python3', ['-c', 'pass']);
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!python)("Krita's own reader (read_json_with_comments) loads the result", async () => {
    const { file } = await box();
    await sync(file, 'replace', library().records, { strength: 0.75 });
    const script = [
      'import json, sys',
      'from pathlib import Path',
      'lines = Path(sys.argv[1]).read_text().splitlines()',
      'data = json.loads("\\n".join("" if l.strip().startswith("//") else l for l in lines))',
      'print(json.dumps([(f["id"], (f.get("metadata") or {}).get("lora_triggers"), (f.get("metadata") or {}).get("lora_strength")) for f in data]))',
    ].join('\n');
    const out = JSON.parse(execFileSync('python3', ['-c', script, file], { encoding: 'utf8' })) as [string, string | null, number | null][];
    expect(out).toContainEqual(['sakura.safetensors', '桜の花, café style, 1girl', 0.75]);
    expect(out).toContainEqual(['detail_tweaker.safetensors', 'detailed', 0.75]);
    expect(out).toHaveLength(9);
  });
});

describe('errors', () => {
  it('a missing file, a non-array and broken JSON are errors naming the file', async () => {
    const { dir, file } = await box();
    await expect(sync(path.join(dir, 'nope.json'), 'fill-empty')).rejects.toThrow(/nope\.json.*does not exist/);
    await writeFile(file, '{"loras": []}');
    await expect(sync(file, 'fill-empty')).rejects.toThrow(KritaSyncError);
    await expect(sync(file, 'fill-empty')).rejects.toThrow(/expected a JSON array/);
    await writeFile(file, '[\n  {"id": "a"},\n  oops\n]');
    await expect(sync(file, 'fill-empty')).rejects.toThrow(/loras\.json: not valid JSON.*line 3/);
  });
});
