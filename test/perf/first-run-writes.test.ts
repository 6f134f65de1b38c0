/**
 * The shortcuts of a first run's sidecar writes (issue #14): a text's UTF-8 made in a reused
 * buffer (util/atomic-write.ts), the A1111 description's plain text skipping the passes that
 * cannot match and worked out once per parent model (sidecars/a1111.ts), and one slim parent
 * body shared by its versions (stages/enrich.ts). Each must give the bytes the slow path gave.
 */
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { inProcessCivitai } from '../../src/dev/fake-civitai/in-process.ts';
import { createPrng } from '../../src/dev/fake-civitai/prng.ts';
import { parseConfig, selectJobs, type ScanJob } from '../../src/integration/engine/config/index.ts';
import { runScanJob } from '../../src/integration/engine/run.ts';
import { plainText } from '../../src/integration/engine/sidecars/a1111.ts';
import { withWriteBatch, writeFileAtomic } from '../../src/integration/engine/util/atomic-write.ts';
import { mapLimit } from '../../src/integration/engine/util/map-limit.ts';
import { TMP_BASE } from '../hardening/helpers.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(TMP_BASE, 'cs-first-run-writes-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Texts whose UTF-8 is easy to get wrong: Latin-1 (one V8 byte, two UTF-8 bytes), CJK, emoji, lone surrogates. */
const TRICKY = ['', 'plain ascii', 'café ÿ ©', '我有个可以让你分享图片的群。', 'emoji 🎨🖌️ and 𝄞', 'lone \uD800 high', 'lone \uDC00 low', 'ends high \uD83D', '\uDFFF\uD800 swapped'];

describe('writeFileAtomic with a text', () => {
  it('writes the bytes Buffer.from gives, for texts of every kind and size (pooled or not)', async () => {
    const big = `{"description": "${'长'.repeat(200_000)}"}\n`; // 600 KB of UTF-8: past the pool's buffers
    const texts = [...TRICKY, ...TRICKY.map((text) => `${text}\n`.repeat(3000)), big];
    for (const [index, text] of texts.entries()) {
      const file = path.join(root, 'kinds', `${index}.json`);
      expect(await writeFileAtomic(file, text)).toBe('written');
      expect((await readFile(file)).equals(Buffer.from(text, 'utf8'))).toBe(true);
      // Read back as the same bytes: unchanged, and the buffer handed back on that path too.
      expect(await writeFileAtomic(file, text)).toBe('unchanged');
    }
  });

  it('64 texts at once in a batch: each file has its own text (a buffer reused before its write ended would mix them)', async () => {
    const prng = createPrng(14);
    const texts = Array.from({ length: 400 }, (_, index) => {
      const unit = TRICKY[index % TRICKY.length] as string;
      return `${JSON.stringify({ index, text: unit.repeat(1 + Math.floor(prng.next() * 4000)) }, null, 2)}\n`;
    });
    const file = (index: number) => path.join(root, 'batch', `shelf-${index % 7}`, `model-${index}.json`);
    await withWriteBatch(() => mapLimit([...texts.keys()], 64, async (index) => void (await writeFileAtomic(file(index), texts[index] as string))));
    for (const [index, text] of texts.entries()) expect((await readFile(file(index))).equals(Buffer.from(text, 'utf8'))).toBe(true);
  });

  it('writes a Uint8Array view as exactly its bytes, not its whole buffer', async () => {
    const whole = Buffer.from('0123456789abcdef');
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 4, 6);
    const file = path.join(root, 'view', 'preview.jpeg');
    await writeFileAtomic(file, view);
    expect(await readFile(file, 'utf8')).toBe('456789');
  });
});

/** sidecars/a1111.ts before its passes were skipped when they cannot match: the reference. */
function plainTextBefore(html: string): string {
  return html
    .replace(/<(br|\/p|\/li|\/h\d)[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/[ \t]+/g, ' ')
    .replace(/\n\s*\n+/g, '\n')
    .trim();
}

describe('the A1111 description as plain text', () => {
  it('is what the full set of passes gave, entities made of entities and stray brackets included', () => {
    const pieces = ['<p>', '</p>', '<br/>', '<BR>', '</li>', '<h2>', '</h3>', '<a href="x">', '<', '>', '&amp;', '&lt;', '&gt;', '&nbsp;', '&quot;', '&#39;', '&', 'amp;', 'lt;', ' ', '\t', '\n', '\n\n', 'word', '长', '🎨'];
    const prng = createPrng(1414);
    const cases = ['', '&amp;lt;b&amp;gt;', '&amp;nbsp;', '&lt;p&gt;not a tag&lt;/p&gt;', 'no markup at all', '<b>bold</b> &amp; <i>more</i>'];
    for (let index = 0; index < 3000; index += 1) {
      cases.push(Array.from({ length: 1 + Math.floor(prng.next() * 30) }, () => pieces[Math.floor(prng.next() * pieces.length)]).join(''));
    }
    for (const html of cases) expect(plainText(html)).toBe(plainTextBefore(html));
  });
});

describe('a first run over versions of the same parent models', () => {
  it('shares one parent body per model among its versions, and writes each sidecar its description', async () => {
    const dir = path.join(root, 'run');
    const library = path.join(dir, 'library');
    await mkdir(library, { recursive: true });
    const old = new Date(Date.now() - 3600_000);
    for (let index = 0; index < 8; index += 1) {
      const file = path.join(library, `model-${index}.safetensors`);
      const data = Buffer.from(`tensor ${index} `.repeat(8));
      const header = Buffer.from(JSON.stringify({ w: { dtype: 'U8', shape: [data.length], data_offsets: [0, data.length] } }));
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(header.length));
      await writeFile(file, Buffer.concat([length, header, data]));
      await utimes(file, old, old);
    }
    const text = stringify({
      input_paths: { models: { path: library, type: 'LORA' } },
      jobs: { scan: { type: 'scan-paths', output: { images: { save: false } } } },
      scanner: { cache_dir: path.join(dir, '.cache') },
    });
    const { config } = parseConfig(text, path.join(dir, 'civitscraper.yaml'));
    const [selected] = selectJobs(config, {});
    // Two parent models, four versions each.
    const client = inProcessCivitai({ templates: 8, modelIdOf: (id) => (id % 2) + 1 });
    const { records, report } = await runScanJob({ config, job: selected?.job as ScanJob, jobName: 'scan', client: client as never });
    expect(report.errors).toEqual([]);
    expect(records).toHaveLength(8);
    const byModel = Map.groupBy(records, (record) => record.model?.id);
    expect([...byModel.keys()].sort()).toEqual([1, 2]);
    for (const group of byModel.values()) {
      expect(group.length).toBeGreaterThan(1);
      for (const record of group) expect(record.model).toBe(group[0]?.model);
    }
    for (const record of records) {
      const sidecar = JSON.parse(await readFile(path.join(library, `${record.file.stem}.json`), 'utf8')) as Record<string, unknown>;
      const html = record.model?.description ?? '';
      expect(html).not.toBe('');
      const expected = plainTextBefore(html);
      expect(sidecar.description).toBe(expected.length <= 600 ? expected : `${expected.slice(0, 599).trimEnd()}…`);
    }
  });
});
