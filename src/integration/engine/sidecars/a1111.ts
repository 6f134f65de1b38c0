/**
 * A1111/Forge "user metadata": `{model_name}.json` beside the model, edited in the WebUI's
 * extra-networks card editor. We fill what the user has not set; a value the user typed is
 * never changed. A value is ours (and may be updated) only while it still equals what we
 * wrote last time.
 */
import type { ModelRecord } from '../records/schema.ts';
import type { ModelVersion } from '../civitai/schemas.ts';

/** Keys the WebUI reads; their presence marks a user-metadata file. */
export const A1111_KEYS = ['description', 'sd version', 'activation text', 'preferred weight', 'negative text', 'notes'] as const;

export interface A1111Metadata {
  description?: string;
  'sd version'?: string;
  'activation text'?: string;
  /** Civitai Browser+ also records these; other tools use them to skip hashing. */
  sha256?: string;
  modelId?: number;
  modelVersionId?: number;
}

export function a1111Metadata(record: ModelRecord, version: ModelVersion): A1111Metadata {
  const words = (version.trainedWords ?? []).map((word) => word.trim().replace(/,+$/, '').trim()).filter(Boolean);
  const description = descriptionText(record.model, version);
  return {
    ...(description ? { description: truncate(description, 600) } : {}),
    'sd version': sdVersion(version.baseModel ?? undefined),
    ...(words.length > 0 ? { 'activation text': words.join(', ') } : {}),
    ...(record.hashes.SHA256 ? { sha256: record.hashes.SHA256 } : {}),
    ...(version.modelId ? { modelId: version.modelId } : {}),
    modelVersionId: version.id,
  };
}

/** The WebUI's `sd version` choices: SD1, SD2, SDXL, SD3, Unknown. */
export function sdVersion(baseModel: string | undefined): string {
  const base = (baseModel ?? '').toLowerCase();
  if (/^sd ?1/.test(base)) return 'SD1';
  if (/^sd ?2/.test(base)) return 'SD2';
  if (/^sd ?3/.test(base)) return 'SD3';
  if (/sdxl|pony|illustrious|noobai/.test(base)) return 'SDXL';
  return 'Unknown';
}

/**
 * Puts our values into `document` where the key is empty or still holds what we wrote last
 * time; returns what we now own, to be remembered for the next run.
 */
export function mergeA1111(
  document: Record<string, unknown>,
  ours: A1111Metadata,
  lastWritten: A1111Metadata | undefined,
): { document: Record<string, unknown>; written: A1111Metadata } {
  const merged = { ...document };
  const written: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(ours)) {
    const current = merged[key];
    const ourEarlier = lastWritten ? (lastWritten as Record<string, unknown>)[key] : undefined;
    const isEmpty = current === undefined || current === null || current === '';
    if (isEmpty || (ourEarlier !== undefined && current === ourEarlier)) {
      merged[key] = value;
      written[key] = value;
    }
  }
  return { document: merged, written: written as A1111Metadata };
}

/** The plain text of a parent model's description, by model body: its versions share one (stages/enrich.ts). */
const modelDescriptions = new WeakMap<object, { html: string; text: string }>();

function descriptionText(model: ModelRecord['model'], version: ModelVersion): string {
  const html = model?.description ?? version.description ?? '';
  if (!model?.description) return plainText(html);
  const known = modelDescriptions.get(model);
  if (known?.html === html) return known.text;
  const text = plainText(html);
  modelDescriptions.set(model, { html, text });
  return text;
}

export function plainText(html: string): string {
  let text = html;
  // A step whose pattern cannot match is skipped (each is a pass over up to 20,000 characters);
  // only the entity steps make an `&`, and none makes a `<` the tag steps would see.
  if (text.includes('<')) text = text.replace(/<(br|\/p|\/li|\/h\d)[^>]*>/gi, '\n').replace(/<[^>]*>/g, '');
  if (text.includes('&')) {
    text = text
      .replace(/&nbsp;/g, ' ')
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'");
  }
  return text
    .replace(/[ \t]+/g, ' ')
    .replace(/\n\s*\n+/g, '\n')
    .trim();
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}

/** What a user (or another tool) set in a sidecar for the site to show: notes and a preferred weight. */
export interface SidecarUserValues {
  notes?: string;
  /** The LoRA weight to put in a prompt. */
  weight?: number;
  /** A1111's `activation text` when it is not what we wrote (the user's own words). */
  activationText?: string;
}

const MAX_USER_TEXT = 20000;

/**
 * The user's values of an A1111 user-metadata document (also our combined sidecar): `notes`,
 * `preferred weight` (0 is the WebUI's "not set") and an `activation text` we did not write.
 */
export function a1111UserValues(document: Record<string, unknown>): SidecarUserValues {
  const values: SidecarUserValues = {};
  const notes = userText(document.notes);
  if (notes) values.notes = notes;
  const weight = userWeight(document['preferred weight']);
  if (weight !== undefined) values.weight = weight;
  const section = document.civitscraper;
  const ours = section && typeof section === 'object' ? (section as { a1111?: Record<string, unknown> }).a1111 : undefined;
  const activation = userText(document['activation text']);
  if (activation && ours?.['activation text'] !== document['activation text']) values.activationText = activation;
  return values;
}

export function userText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  return text ? text.slice(0, MAX_USER_TEXT) : undefined;
}

/** A weight as a number or numeric text within ±10; 0 means "not set" in both A1111 and LM. */
export function userWeight(value: unknown): number | undefined {
  const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(number) || number === 0 || Math.abs(number) > 10) return undefined;
  return Math.round(number * 100) / 100;
}
