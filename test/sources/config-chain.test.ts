/** `sources` config keys, the CLI flags, and the walk over sources (failure ≠ not found). */
import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../src/integration/cli/args.ts';
import { lookUpInOrder } from '../../src/integration/engine/sources/chain.ts';
import type { IdentifySource, SourceAnswer, SourceName } from '../../src/integration/engine/sources/types.ts';
import { fromCivarchive } from '../../src/integration/engine/sources/civarchive.ts';
import { airOf } from '../../src/integration/engine/sources/air.ts';
import { parse, yaml } from '../config/helpers.ts';

const version = (id: number) => ({ id, modelId: 1, files: [{ hashes: { SHA256: 'A' } }] });

function fake(name: SourceName, answers: Record<string, SourceAnswer>, local = false): IdentifySource & { asked: string[][] } {
  const asked: string[][] = [];
  return {
    name,
    local,
    asked,
    async lookup(hashes) {
      asked.push([...hashes]);
      return new Map(hashes.map((hash) => [hash, answers[hash] ?? { status: 'not-found' }]));
    },
  };
}

describe('sources config', () => {
  it('defaults to [civitai, archive_db] with no archive path; a string archive_db is a path resolved against the config', () => {
    const base = yaml`
      input_paths:
        loras: { path: ./Lora, type: LORA }
    `;
    expect(parse(base).config.sources).toMatchObject({ order: ['civitai', 'archive_db'], network: 'online', civitai: { enabled: true }, archive_db: { enabled: true } });
    expect(parse(base).config.sources.archive_db.path).toBeUndefined();
    const withArchive = parse(`${base}sources:\n  order: [civarchive, civitai, archive_db]\n  archive_db: ./civitai.sqlite\n  civarchive: { enabled: false }\n`);
    expect(withArchive.config.sources.archive_db).toEqual({ enabled: true, path: '/srv/library/civitai.sqlite' });
    expect(withArchive.config.sources.order).toEqual(['civarchive', 'civitai', 'archive_db']);
    expect(withArchive.config.sources.civarchive.enabled).toBe(false);
    expect(withArchive.warnings).toEqual([]);
    const object = parse(`${base}sources:\n  archive_db: { path: ~/a.sqlite, enabled: false }\n`);
    expect(object.config.sources.archive_db).toEqual({ enabled: false, path: '/home/tester/a.sqlite' });
  });

  it('an unknown source name is refused', () => {
    expect(() => parse(yaml`
      input_paths:
        loras: { path: ./Lora, type: LORA }
      sources:
        order: [civitai, hugginface]
    `)).toThrow(/order/);
  });

  it('--offline, --no-remote and link parse; --remove belongs to link', () => {
    expect(parseCliArgs(['--offline'])).toMatchObject({ offline: true, noRemote: false });
    expect(parseCliArgs(['--no-remote'])).toMatchObject({ noRemote: true });
    expect(parseCliArgs(['link', 'a.safetensors', '123'])).toMatchObject({ command: 'link', linkArgs: ['a.safetensors', '123'] });
    expect(parseCliArgs(['link', '--remove', 'a.safetensors'])).toMatchObject({ remove: true, linkArgs: ['a.safetensors'] });
    expect(() => parseCliArgs(['link', 'a.safetensors'])).toThrow(/usage/);
    expect(() => parseCliArgs(['scan', '--remove'])).toThrow(/belongs to/);
  });
});

describe('lookUpInOrder', () => {
  it('asks in order and stops at the first answer; a failed source is passed over', async () => {
    const civitai = fake('civitai', { A: { status: 'unknown', error: '503' }, B: { status: 'identified', version: version(2) } });
    const archive = fake('archive_db', { A: { status: 'identified', version: version(1) } }, true);
    const { results } = await lookUpInOrder([civitai, archive], ['a', 'B', 'C']);
    expect(results.get('A')).toMatchObject({ status: 'identified', source: 'archive_db' });
    expect(results.get('B')).toMatchObject({ status: 'identified', source: 'civitai' });
    expect(results.get('C')).toEqual({ status: 'not-found' });
    expect(archive.asked).toEqual([['A', 'C']]);
  });

  it('"not found" only when every source says no; a failure anywhere makes it unknown', async () => {
    const civitai = fake('civitai', {});
    const civarchive = fake('civarchive', { A: { status: 'unknown', error: 'timeout' } });
    const { results, saidNo } = await lookUpInOrder([civitai, civarchive], ['A', 'B']);
    expect(results.get('A')).toMatchObject({ status: 'unknown', error: expect.stringMatching(/civarchive: timeout/) });
    expect(results.get('B')).toEqual({ status: 'not-found' });
    expect([...(saidNo.get('A') ?? [])]).toEqual(['civitai']);
  });

  it('remote sources skip hashes known missing (the 404 memory); local sources are still asked; no source at all is unknown', async () => {
    const civitai = fake('civitai', {});
    const archive = fake('archive_db', {}, true);
    await lookUpInOrder([civitai, archive], ['A'], () => true);
    expect(civitai.asked).toEqual([]);
    expect(archive.asked).toEqual([['A']]);
    expect((await lookUpInOrder([], ['A'])).results.get('A')?.status).toBe('unknown');
  });
});

describe('shapes', () => {
  it('CivArchive bodies become API-shaped versions and models', () => {
    const sha = 'ab'.repeat(32);
    const rebuilt = fromCivarchive(
      { data: { id: 7, name: 'M', type: 'LORA', creator_username: 'u', tags: ['x'], version: { id: 9, modelId: 7, name: 'v1', baseModel: 'SDXL 1.0', trigger: 'word', files: [{ sha256: sha, sizeKB: 1, name: 'f.safetensors' }] } } },
      sha.toUpperCase(),
    );
    expect(rebuilt?.version).toMatchObject({ id: 9, modelId: 7, trainedWords: ['word'], model: { name: 'M', type: 'LORA' } });
    expect(rebuilt?.version.files?.[0]?.hashes?.SHA256).toBe(sha.toUpperCase());
    expect(rebuilt?.model).toMatchObject({ id: 7, name: 'M', creator: { username: 'u' } });
    expect(fromCivarchive({ data: { id: 7 } }, sha)).toBeUndefined();
  });

  it('AIR: the version`s own, else built from base model and type', () => {
    expect(airOf({ id: 2, modelId: 1, air: 'urn:air:sd1:lora:civitai:1@2' })).toBe('urn:air:sd1:lora:civitai:1@2');
    expect(airOf({ id: 2, modelId: 1, baseModel: 'Illustrious', model: { type: 'LORA' } })).toBe('urn:air:sdxl:lora:civitai:1@2');
    expect(airOf({ id: 2, modelId: 1, baseModel: 'Flux.1 D', model: { type: 'Checkpoint' } })).toBe('urn:air:flux1:checkpoint:civitai:1@2');
  });
});
