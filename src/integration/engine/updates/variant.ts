/**
 * Variant families: which versions of one CivitAI model are "the same thing, newer" and which
 * are side branches (a Turbo next to the Base, an fp8 next to the fp16, an inpainting model next
 * to the standard one, a CKPT next to the safetensors).
 *
 * The family of a version is its base model (`baseModel`, compared as text: `SD 1.5 LCM`,
 * `SDXL Lightning` and `Flux.1 S` are families of their own) plus a variant key read from the
 * version name, `baseModelType` and the files' metadata. The key has two kinds of axes:
 *
 * - strict axes, from the name (and `baseModelType`): `distill` (turbo, lightning, hyper, lcm,
 *   dmd, with the step count when one is given: `lightning 4-step`), `task` (inpainting,
 *   refiner, i2v, t2v, v-pred) and `vae` (no-vae). Saying nothing is a value too: "v2" is the
 *   base of "v2 Turbo", so the two sets of tags must be equal.
 * - loose axes: `precision` (fp8, fp16, bf16, fp32, nf4, int8, int4, q2…q8) and `size`
 *   (pruned, full). Authors change these between releases without meaning a variant (v2.6 in
 *   fp16 full, v3.0 in fp32 pruned, from the recorded checkpoint list), so they only separate
 *   versions when a name says so: then the other side must have it too, by its own name or,
 *   failing that, by its files' metadata (`files[].metadata.fp/size`); not knowing is not
 *   having it ("v2 fp8" is no update of a "v1" whose precision nobody recorded). Two names that
 *   both say nothing are the same family whatever their files are.
 * - `format` (safetensors, pickle, diffusers, gguf, onnx, coreml) goes one way: a candidate
 *   whose name states a format ("V11 - CKPT", "8-diffusers", "EasyNegative_pt") is a repackaging,
 *   of the family only when the local file has that format (by its name, else its extension or
 *   metadata); a local CKPT is still offered the next release in safetensors.
 *
 * An unknown name or base model matches anything (old or slim bodies): the radar may then say
 * more, but never misses an update of the right family for want of data.
 */
import type { FileFacts, VersionFacts } from './schema.ts';

type StrictAxis = 'distill' | 'task' | 'vae';
type LooseAxis = 'precision' | 'size';
type FileAxis = LooseAxis | 'format';
type Axis = StrictAxis | FileAxis;

const STRICT_AXES: readonly StrictAxis[] = ['distill', 'task', 'vae'];
const LOOSE_AXES: readonly LooseAxis[] = ['precision', 'size'];

/**
 * Name patterns, matched on the lower-cased name with every run of other characters turned into
 * one space (`v2.0-fp8_e4m3fn` → `v2 0 fp8 e4m3fn`). `hyper` is not taken from "hyper
 * realistic"; "full" is never read from a name (too common in other senses: "full body").
 */
const NAME_TAGS: readonly { axis: Axis; tag: string | ((match: RegExpExecArray) => string); pattern: RegExp }[] = [
  { axis: 'distill', tag: 'turbo', pattern: /\bturbo\b/ },
  { axis: 'distill', tag: 'lightning', pattern: /\blightning\b/ },
  { axis: 'distill', tag: 'hyper', pattern: /\bhyper(?: ?sd)?\b(?! ?(?:real|detail))/ },
  { axis: 'distill', tag: 'lcm', pattern: /\blcm\b/ },
  { axis: 'distill', tag: 'dmd', pattern: /\bdmd ?2?\b/ },
  { axis: 'task', tag: 'inpainting', pattern: /inpaint|\binp\b/ },
  { axis: 'task', tag: 'refiner', pattern: /\brefiner\b/ },
  { axis: 'task', tag: 'i2v', pattern: /\bi2v\b|\bimg2vid\b|\bimage to video\b/ },
  { axis: 'task', tag: 't2v', pattern: /\bt2v\b|\btext to video\b/ },
  { axis: 'task', tag: 'v-pred', pattern: /\bv ?pred(?:iction)?\b/ },
  { axis: 'vae', tag: 'no-vae', pattern: /\bno ?vae\b|\bwithout vae\b|\bvae ?less\b/ },
  { axis: 'precision', tag: 'fp8', pattern: /\bfp8\w*|\bf8\b|\be4m3\w*|\be5m2\w*/ },
  { axis: 'precision', tag: 'fp16', pattern: /\bfp16\b|\bf16\b/ },
  { axis: 'precision', tag: 'bf16', pattern: /\bbf16\b/ },
  { axis: 'precision', tag: 'fp32', pattern: /\bfp32\b|\bf32\b/ },
  { axis: 'precision', tag: 'nf4', pattern: /\bnf4\b/ },
  { axis: 'precision', tag: 'int8', pattern: /\bint8\b/ },
  { axis: 'precision', tag: 'int4', pattern: /\bint4\b|\bsvdq\w*/ },
  { axis: 'precision', tag: (m) => `q${m[1]}`, pattern: /\bq([2-8])\b/ },
  { axis: 'size', tag: 'pruned', pattern: /\bpruned\b|\bno ?ema\b|\bema ?only\b|\bnonema\b/ },
  { axis: 'format', tag: 'pickle', pattern: /\bckpt\b|\bpt\b|\bpickle\w*/ },
  { axis: 'format', tag: 'diffusers', pattern: /\bdiffusers?\b/ },
  { axis: 'format', tag: 'gguf', pattern: /\bgguf\b/ },
  { axis: 'format', tag: 'onnx', pattern: /\bonnx\b/ },
  { axis: 'format', tag: 'coreml', pattern: /\bcore ?ml\b/ },
];

/** `4 step`, `8steps`: kept only beside a distillation tag (Lightning 4-step vs 8-step). */
const STEPS = /\b([1-9]|1[0-6]) ?steps?\b/;

const BASE_MODEL_TYPE_TAGS: Record<string, string> = { inpainting: 'inpainting', refiner: 'refiner' };

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();
}

export type Tags = Readonly<Record<Axis, ReadonlySet<string>>>;

const NONE: ReadonlySet<string> = new Set();
const EMPTY_TAGS: Tags = { distill: NONE, task: NONE, vae: NONE, precision: NONE, size: NONE, format: NONE };
const ANY_TAG = new RegExp(NAME_TAGS.map(({ pattern }) => `(?:${pattern.source})`).join('|'));
/** Names repeat across a library ("v1.0"); a whole library's worth is kept, then it starts over. */
const tagCache = new Map<string, Tags>();
const TAG_CACHE_SIZE = 50_000;

/** The variant tags a version name states (undefined: no name known). Shared: never change them. */
export function nameTags(name: string | undefined, baseModelType?: string): Tags | undefined {
  if (name === undefined) return undefined;
  const cacheKey = `${baseModelType ?? ''}\0${name}`;
  const cached = tagCache.get(cacheKey);
  if (cached) return cached;
  const text = normalizeName(name);
  const found: Partial<Record<Axis, Set<string>>> = {};
  // Most names ("v1.0", "V2 final") name no variant at all: one test spares the two dozen.
  if (!ANY_TAG.test(text) && !BASE_MODEL_TYPE_TAGS[(baseModelType ?? '').toLowerCase()]) return remember(cacheKey, EMPTY_TAGS);
  const add = (axis: Axis, tag: string) => (found[axis] ??= new Set()).add(tag);
  for (const { axis, tag, pattern } of NAME_TAGS) {
    const match = pattern.exec(text);
    if (match) add(axis, typeof tag === 'string' ? tag : tag(match));
  }
  const steps = STEPS.exec(text);
  if (steps && found.distill) add('distill', `${steps[1]}-step`);
  const fromType = BASE_MODEL_TYPE_TAGS[(baseModelType ?? '').toLowerCase()];
  if (fromType) add('task', fromType);
  const tags: Tags = {
    distill: found.distill ?? NONE,
    task: found.task ?? NONE,
    vae: found.vae ?? NONE,
    precision: found.precision ?? NONE,
    size: found.size ?? NONE,
    format: found.format ?? NONE,
  };
  return remember(cacheKey, tags);
}

function remember(cacheKey: string, tags: Tags): Tags {
  if (tagCache.size >= TAG_CACHE_SIZE) tagCache.clear();
  tagCache.set(cacheKey, tags);
  return tags;
}

/** `files[].metadata.fp` → our precision tag (`fp8_e4m3fn` → fp8, `Q4_K_M` → q4). */
export function precisionTag(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const tags = nameTags(value)?.precision;
  return tags && tags.size > 0 ? [...tags][0] : undefined;
}

/** `files[].metadata.size`: pruned or full. */
export function sizeTag(value: string | null | undefined): string | undefined {
  const text = (value ?? '').toLowerCase();
  return text === 'pruned' || text === 'full' ? text : undefined;
}

const FORMATS: Record<string, string> = {
  safetensor: 'safetensors',
  safetensors: 'safetensors',
  pickletensor: 'pickle',
  diffusers: 'diffusers',
  gguf: 'gguf',
  onnx: 'onnx',
  'core ml': 'coreml',
  coreml: 'coreml',
};

/** `files[].metadata.format` (SafeTensor, PickleTensor, Diffusers, GGUF, ONNX, Core ML); `Other` is unknown. */
export function formatTag(value: string | null | undefined): string | undefined {
  return FORMATS[(value ?? '').toLowerCase()];
}

const EXTENSION_FORMATS: Record<string, string> = {
  '.safetensors': 'safetensors',
  '.sft': 'safetensors',
  '.ckpt': 'pickle',
  '.pt': 'pickle',
  '.pth': 'pickle',
  '.bin': 'pickle',
  '.gguf': 'gguf',
  '.onnx': 'onnx',
};

/** The format of a local file, from its extension. */
export function extensionFormat(ext: string | undefined): string | undefined {
  return EXTENSION_FORMATS[(ext ?? '').toLowerCase()];
}

/** One side of a comparison: a version, and the files it stands for. */
export interface FamilySide {
  facts: Pick<VersionFacts, 'name' | 'baseModel' | 'baseModelType'>;
  /**
   * The files it stands for: the local file for a local version; every model-weight file for a
   * candidate. Undefined or empty: not known.
   */
  files?: readonly FileFacts[] | undefined;
}

/** A side's family, worked out once (`familyKey`) and compared many times (`sameFamilyKey`). */
export interface FamilyKey {
  readonly base?: string;
  readonly tags?: Tags;
  readonly files?: Readonly<Record<FileAxis, ReadonlySet<string>>>;
}

function valuesOf(files: readonly FileFacts[], pick: (file: FileFacts) => string | undefined): ReadonlySet<string> {
  let found: Set<string> | undefined;
  for (const file of files) {
    const value = pick(file);
    if (value !== undefined) (found ??= new Set()).add(value);
  }
  return found ?? NONE;
}

export function familyKey(side: FamilySide): FamilyKey {
  const base = side.facts.baseModel?.trim().toLowerCase().replace(/\s+/g, ' ');
  const tags = nameTags(side.facts.name, side.facts.baseModelType);
  const files = side.files && side.files.length > 0 ? side.files : undefined;
  return {
    ...(base ? { base } : {}),
    ...(tags ? { tags } : {}),
    ...(files ? { files: { precision: valuesOf(files, (file) => file.fp), size: valuesOf(files, (file) => file.size), format: valuesOf(files, (file) => file.format) } } : {}),
  };
}

function intersects(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  for (const value of a) if (b.has(value)) return true;
  return false;
}

function equal(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const value of a) if (!b.has(value)) return false;
  return true;
}

/**
 * Same base model and same variant (see the top of this file). `a` is the local side: a
 * format stated in `b`'s name must be `a`'s.
 */
export function sameFamily(a: FamilySide, b: FamilySide): boolean {
  return sameFamilyKey(familyKey(a), familyKey(b));
}

/** `sameFamily` on keys worked out before (the rules compare each version with many). */
export function sameFamilyKey(ka: FamilyKey, kb: FamilyKey): boolean {
  if (ka.base !== undefined && kb.base !== undefined && ka.base !== kb.base) return false;
  if (!ka.tags || !kb.tags) return true;
  for (const axis of STRICT_AXES) if (!equal(ka.tags[axis], kb.tags[axis])) return false;
  for (const axis of LOOSE_AXES) {
    const ta = ka.tags[axis];
    const tb = kb.tags[axis];
    if (ta.size > 0 && tb.size > 0) {
      if (!intersects(ta, tb)) return false;
      continue;
    }
    if (ta.size === 0 && tb.size === 0) continue;
    // One name states it: the other side's files must have it.
    const [stated, other] = ta.size > 0 ? [ta, kb] : [tb, ka];
    const values = other.files?.[axis];
    if (!values || !intersects(stated, values)) return false;
  }
  const repackaged = kb.tags.format;
  const mine = ka.tags.format.size > 0 ? ka.tags.format : ka.files?.format;
  return repackaged.size === 0 || !mine || mine.size === 0 || intersects(repackaged, mine);
}

/** `SDXL 1.0 · turbo, fp8`: the family of a side, for people. */
export function describeFamily(side: FamilySide): string {
  const key = familyKey(side);
  const tags = key.tags ? [...STRICT_AXES, ...LOOSE_AXES, 'format' as const].flatMap((axis) => [...(key.tags as Tags)[axis]]) : [];
  const base = side.facts.baseModel?.trim() || 'any base model';
  return tags.length > 0 ? `${base} · ${tags.join(', ')}` : base;
}
