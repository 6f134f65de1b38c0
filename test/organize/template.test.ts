import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ORGANIZATION_TEMPLATES } from '../../src/integration/engine/config/schema.ts';
import {
  effectiveTemplate,
  placeholderValues,
  rawRating,
  renderTemplate,
  roundHalfStep,
  sanitizeSegment,
  weightedRating,
  weightedThumbsUp,
  MAX_SEGMENT_BYTES,
} from '../../src/integration/engine/organize/index.ts';
import { makeRecord } from './helpers.ts';

const lib = path.resolve('/library/Lora');
const detailTweaker = makeRecord({
  path: path.join(lib, 'add_detail.safetensors'),
  modelName: 'Detail Tweaker LoRA (细节调整LoRA)',
  versionName: 'v1.0',
  type: 'LORA',
  creator: 'lrabbit',
  baseModel: 'SD 1.5',
  createdAt: '2023-05-13T02:31:44.469Z',
  stats: { downloadCount: 612345, ratingCount: 40000, rating: 4.93, thumbsUpCount: 20500 },
  nsfwLevel: 1,
});
const ponyNsfw = makeRecord({
  path: path.join(lib, 'pony_style.safetensors'),
  modelName: 'Pony Style',
  type: 'LoCon',
  creator: 'someone',
  baseModel: 'Pony',
  createdAt: '2024-11-02T09:00:00.000Z',
  stats: { downloadCount: 1000, ratingCount: 0, rating: 0, thumbsUpCount: 30 },
  nsfw: false,
  nsfwLevel: 28, // R | X | XXX bitmask: nsfw by level although model.nsfw is false
});

describe('predefined templates (seed names, fixed placeholders)', () => {
  const expected: Record<keyof typeof ORGANIZATION_TEMPLATES, string[]> = {
    by_type: ['LORA'],
    by_creator: ['lrabbit'],
    by_type_and_creator: ['LORA', 'lrabbit'],
    by_type_and_basemodel: ['LORA', 'SD 1.5'],
    by_base_model: ['SD 1.5', 'LORA'],
    by_nsfw: ['sfw', 'LORA'],
    by_type_basemodel_nsfw: ['LORA', 'SD 1.5', 'sfw'],
    by_date: ['2023', '05', 'LORA'],
    by_model_info: ['LORA', 'Detail Tweaker LoRA (细节调整LoRA)'],
    by_rating: ['rating_3.5', 'LORA'],
    by_type_and_rating: ['LORA', 'rating_3.5'],
    by_raw_rating: ['rating_5.0', 'LORA'],
    by_type_and_raw_rating: ['LORA', 'rating_5.0'],
  };
  for (const [name, segments] of Object.entries(expected)) {
    it(`${name} (${ORGANIZATION_TEMPLATES[name as keyof typeof ORGANIZATION_TEMPLATES]})`, () => {
      const template = effectiveTemplate({ template: name as keyof typeof ORGANIZATION_TEMPLATES });
      expect(renderTemplate(template, detailTweaker)).toEqual(segments);
    });
  }

  it('custom_template wins over template when not blank; blank falls back', () => {
    expect(effectiveTemplate({ template: 'by_creator', custom_template: '{base_model}/{creator}' })).toBe('{base_model}/{creator}');
    expect(effectiveTemplate({ template: 'by_creator', custom_template: '   ' })).toBe('{creator}');
  });
});

describe('placeholders', () => {
  it('fills every placeholder from the record', () => {
    expect(placeholderValues(detailTweaker)).toEqual({
      model_name: 'Detail Tweaker LoRA (细节调整LoRA)',
      model_type: 'LORA',
      type: 'LORA',
      creator: 'lrabbit',
      base_model: 'SD 1.5',
      nsfw: 'sfw',
      year: '2023',
      month: '05',
      day: '13',
      rating: 'rating_5.0',
      weighted_rating: 'rating_3.5',
      weighted_thumbsup: 'thumbs_1.5',
      version_name: 'v1.0',
      model_id: '82098',
      version_id: '128713',
      rating_count: '40000',
      download_count: '612345',
      thumbs_up_count: '20500',
    });
  });

  it('the counts the seed documented come from the version stats (Unknown without stats)', () => {
    expect(renderTemplate('{download_count}/{rating_count}/{thumbs_up_count}', detailTweaker)).toEqual(['612345', '40000', '20500']);
    const bare = makeRecord({ path: '/l/mystery.safetensors', stats: null });
    expect(renderTemplate('{download_count}/{thumbs_up_count}', bare)).toEqual(['Unknown', 'Unknown']);
    const zero = makeRecord({ path: '/l/new.safetensors', stats: { downloadCount: 0, ratingCount: 0, rating: 0, thumbsUpCount: 0 } });
    expect(renderTemplate('{download_count}', zero)).toEqual(['0']);
  });

  it('{name|default} gives the default when CivitAI has no value (the seed documented it)', () => {
    const bare = makeRecord({ path: '/l/mystery.safetensors', creator: null, baseModel: null, createdAt: null, stats: null });
    expect(renderTemplate('{creator|Unknown Creator}/{base_model|Other}/{year|undated}', bare)).toEqual(['Unknown Creator', 'Other', 'undated']);
    // A value wins over the default; the default is sanitized like a value; an empty default drops the level.
    expect(renderTemplate('{creator|Unknown Creator}/{type}', detailTweaker)).toEqual(['lrabbit', 'LORA']);
    expect(renderTemplate('{creator|../x}/{type}', bare)).toEqual(['_x', 'LORA']);
    expect(renderTemplate('{creator|}/{type}', bare)).toEqual(['LORA']);
    expect(renderTemplate('by-{creator|nobody}', bare)).toEqual(['by-nobody']);
  });

  it('fixes the seed: creator from the parent model, no leading space in ratings, nsfw from nsfwLevel', () => {
    const values = placeholderValues(ponyNsfw);
    expect(values.creator).toBe('someone');
    expect(values.rating).toBe('rating_1.0');
    expect(values.weighted_rating).toBe('rating_1.0');
    expect(values.weighted_thumbsup).toBe('thumbs_1.5');
    expect(values.nsfw).toBe('nsfw');
    expect(values.type).toBe('LoCon');
    expect(placeholderValues(ponyNsfw, { nsfwThreshold: 32 }).nsfw).toBe('sfw');
    expect(placeholderValues(makeRecord({ path: '/l/a.safetensors', nsfw: true, nsfwLevel: 1 })).nsfw).toBe('nsfw');
  });

  it('falls back to Unknown (and the file stem for the name) when the API gave nothing', () => {
    const bare = makeRecord({ path: '/l/mystery.safetensors', modelName: null, type: null, creator: null, baseModel: null, createdAt: null, stats: null, versionName: '' });
    const values = placeholderValues(bare);
    expect(values).toMatchObject({ model_name: 'mystery', type: 'Unknown', creator: 'Unknown', base_model: 'Unknown', year: 'Unknown', month: 'Unknown' });
    expect(values.rating).toBe('rating_1.0');
    expect(values.weighted_thumbsup).toBe('thumbs_1.0');
    expect(renderTemplate('{by}/{creator}', bare)).toEqual(['{by}', 'Unknown']);
  });

  it('substitutes in one pass: a value that looks like a placeholder stays as it is', () => {
    const sneaky = makeRecord({ path: '/l/a.safetensors', creator: '{type}', modelName: '{creator}' });
    expect(renderTemplate('{creator}/{model_name}', sneaky)).toEqual(['{type}', '{creator}']);
  });

  it('drops empty, "." and ".." segments written in the template', () => {
    expect(renderTemplate('../{type}//./{creator}/..', detailTweaker)).toEqual(['LORA', 'lrabbit']);
    expect(renderTemplate('/{type}\\{base_model}', detailTweaker)).toEqual(['LORA', 'SD 1.5']);
  });
});

describe('rating formulas (seed formulas, Python rounding)', () => {
  it('rounds to the nearest half with ties to the even half step, like Python round(x * 2) / 2', () => {
    // Python: [round(x*2)/2 for x in (2.25, 2.75, 3.25, 1.75, 4.75, 0.25, 3.3, 3.2)]
    expect([2.25, 2.75, 3.25, 1.75, 4.75, 0.25, 3.3, 3.2].map(roundHalfStep)).toEqual([2, 3, 3, 2, 5, 0, 3.5, 3]);
    // JS Math.round would give 2.5 for 2.25 (Math.round(4.5) = 5): the difference the seed's folders depend on.
    expect(Math.round(2.25 * 2) / 2).toBe(2.5);
  });

  it('raw rating clamps to 1–5', () => {
    expect(rawRating({ rating: 0 })).toBe(1);
    expect(rawRating({ rating: 4.74 })).toBe(4.5);
    expect(rawRating({ rating: 4.75 })).toBe(5);
    expect(rawRating(undefined)).toBe(1);
    expect(rawRating({ rating: 7 })).toBe(5);
  });

  it('weighted rating pulls towards 3 by the share of raters', () => {
    expect(weightedRating({ ratingCount: 0, rating: 5, downloadCount: 10 })).toBe(1);
    // confidence = min(10/100*5, 1) = 0.5 → 3 + 1.8*0.5 = 3.9 → 4.0
    expect(weightedRating({ ratingCount: 10, rating: 4.8, downloadCount: 100 })).toBe(4);
    // confidence 1 → the rating itself
    expect(weightedRating({ ratingCount: 50, rating: 4.2, downloadCount: 100 })).toBe(4);
    // confidence = 0.25 → 3 + (1 - 3) * 0.25 = 2.5
    expect(weightedRating({ ratingCount: 5, rating: 1, downloadCount: 100 })).toBe(2.5);
    // downloadCount 0 counts as 1
    expect(weightedRating({ ratingCount: 1, rating: 2, downloadCount: 0 })).toBe(2);
  });

  it('weighted thumbs-up', () => {
    expect(weightedThumbsUp({ downloadCount: 0, thumbsUpCount: 5 })).toBe(1);
    expect(weightedThumbsUp({ downloadCount: 1000, thumbsUpCount: 50 })).toBe(2); // 1 + 0.25*4
    expect(weightedThumbsUp({ downloadCount: 1000, thumbsUpCount: 30 })).toBe(1.5); // 1.6 → 1.5
    expect(weightedThumbsUp({ downloadCount: 1000, thumbsUpCount: 200 })).toBe(5);
    expect(weightedThumbsUp({ downloadCount: 1000, thumbsUpCount: 5000 })).toBe(5);
  });
});

describe('sanitizing path components', () => {
  const hostile: Array<[string, string]> = [
    ['../../etc', '_.._etc'],
    ['..', '_'],
    ['.', '_'],
    ['a/b\\c', 'a_b_c'],
    ['C:\\Windows', 'C__Windows'],
    ['what*is?this<>|"', 'what_is_this____'],
    ['tab\there\u0000nul\u001fend\u007f', 'tab_here_nul_end_'],
    ['CON', 'CON_'],
    ['nul.txt', 'nul_.txt'],
    ['Com1', 'Com1_'],
    ['LPT9.tar.gz', 'LPT9_.tar.gz'],
    ['CONSOLE', 'CONSOLE'],
    ['trailing dots...', 'trailing dots'],
    ['  spaced  ', 'spaced'],
    ['.hidden', 'hidden'],
    ['evil\u202egnp.exe', 'evilgnp.exe'],
    ['', '_'],
  ];
  for (const [input, output] of hostile) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(output)}`, () => {
      expect(sanitizeSegment(input)).toBe(output);
    });
  }

  it('keeps unicode, normalized to NFC', () => {
    const decomposed = 'Ünïcödé 模型 ✨ — café'.normalize('NFD');
    expect(sanitizeSegment(decomposed)).toBe('Ünïcödé 模型 ✨ — café'.normalize('NFC'));
  });

  it('limits length in bytes, on character boundaries, keeping the extension', () => {
    const long = 'x'.repeat(300);
    expect(sanitizeSegment(long)).toBe('x'.repeat(MAX_SEGMENT_BYTES));
    const cjk = '模'.repeat(300); // 3 bytes each
    const cut = sanitizeSegment(cjk);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(255);
    expect(cut).toBe('模'.repeat(85));
    const emoji = '👩‍👩‍👧'.repeat(40); // 18-byte grapheme clusters
    const cutEmoji = sanitizeSegment(emoji);
    expect(Buffer.byteLength(cutEmoji)).toBeLessThanOrEqual(255);
    expect(cutEmoji).toBe('👩‍👩‍👧'.repeat(14));
    const withExt = `${'n'.repeat(300)}.safetensors`;
    const kept = sanitizeSegment(withExt);
    expect(kept.endsWith('.safetensors')).toBe(true);
    expect(Buffer.byteLength(kept)).toBe(255);
    expect(sanitizeSegment('abcdefghijklmnop.txt', { maxBytes: 16 })).toBe('abcdefghijkl.txt');
  });

  it('hostile model names render inside the tree, one segment per placeholder', () => {
    const names = ['../../../etc/passwd', '/absolute/path', 'C:\\evil', 'a:b*c?d', '..\\..\\x', `${'長'.repeat(120)}${'z'.repeat(300)}`, '\u0000', '  ..  '];
    const root = path.resolve('/organized');
    for (const name of names) {
      const record = makeRecord({ path: '/l/x.safetensors', modelName: name, creator: name, baseModel: name });
      const segments = renderTemplate('{type}/{creator}/{model_name}/{base_model}', record);
      expect(segments).toHaveLength(4);
      for (const segment of segments) {
        expect(segment).not.toMatch(/[/\\:*?"<>|\u0000-\u001f]/);
        expect(segment === '.' || segment === '..').toBe(false);
        expect(Buffer.byteLength(segment)).toBeLessThanOrEqual(255);
      }
      const target = path.join(root, ...segments, 'x.safetensors');
      const relative = path.relative(root, target);
      expect(relative.startsWith('..') || path.isAbsolute(relative)).toBe(false);
    }
  });
});
