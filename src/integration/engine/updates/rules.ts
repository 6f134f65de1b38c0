/**
 * The update rules, as pure functions (the CLI's `updates`, the scan's records, the gallery and
 * the library report all call these):
 *
 * 1. A newer version counts only when it is of the same family as the local one (same base
 *    model, same variant: variant.ts) and was published after the newest local version of that
 *    family (`publishedAt`, else `createdAt`; with no dates, or dates within an hour of each
 *    other, the order CivitAI lists them in, newest first). A version that is in the library
 *    is never an update.
 * 2. Versions in early access (`availability: EarlyAccess`, or `earlyAccessEndsAt` still in the
 *    future), sold (`paidAccess`), usable on CivitAI only (`usageControl` other than
 *    `Download`) or ignored by the user are listed with a flag and not counted.
 * 3. Versions that are not published (`status` other than Published: drafts, scheduled) are
 *    not listed at all.
 *
 * "The newest local version of that family": a library holding v2 Turbo and v1 Base of a model
 * is offered v2 Base for its v1 Base file even when v2 Base came out before v2 Turbo.
 */
import type { Model, ModelFile, ModelVersion, ModelVersionSummary } from '../civitai/schemas.ts';
import type { ModelRecord } from '../records/schema.ts';
import type { FileFacts, NewerVersion, UpdateFlag, VersionFacts } from './schema.ts';
import { extensionFormat, familyKey, formatTag, precisionTag, sameFamilyKey, sizeTag, type FamilyKey, type FamilySide } from './variant.ts';

/** File types that hold the weights (the others: VAE, Config, Training Data, Archive). */
const WEIGHT_FILE_TYPES = new Set(['model', 'pruned model']);
const DAY_MS = 24 * 60 * 60 * 1000;

type Row = Record<string, unknown>;

export function fileFacts(file: Pick<ModelFile, 'metadata'> | undefined): FileFacts {
  const metadata = file?.metadata ?? undefined;
  const fp = precisionTag(metadata?.fp);
  const size = sizeTag(metadata?.size);
  const format = formatTag(metadata?.format);
  return { ...(fp ? { fp } : {}), ...(size ? { size } : {}), ...(format ? { format } : {}) };
}

/** The facts of the model-weight files of a version; undefined when the body has no file list. */
function weightFiles(files: ModelVersion['files']): FileFacts[] | undefined {
  if (!files || files.length === 0) return undefined;
  const out: FileFacts[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    if (file.type && !WEIGHT_FILE_TYPES.has(file.type.toLowerCase())) continue;
    const facts = fileFacts(file);
    const key = `${facts.fp ?? ''}|${facts.size ?? ''}|${facts.format ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(facts);
  }
  return out;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value : undefined);

/**
 * When early access ends: `earlyAccessEndsAt`, else publishedAt plus the days of
 * `earlyAccessConfig.timeframe` (2024+) or `earlyAccessTimeFrame` (2022–2023, 0 = none).
 */
function earlyAccessEnd(raw: Row): string | undefined {
  const explicit = text(raw.earlyAccessEndsAt);
  if (explicit) return explicit;
  const config = raw.earlyAccessConfig && typeof raw.earlyAccessConfig === 'object' ? (raw.earlyAccessConfig as Row) : undefined;
  const days = typeof config?.timeframe === 'number' ? config.timeframe : typeof raw.earlyAccessTimeFrame === 'number' ? raw.earlyAccessTimeFrame : 0;
  if (!(days > 0)) return undefined;
  const start = Date.parse(text(raw.publishedAt) ?? text(raw.createdAt) ?? '');
  if (Number.isNaN(start)) return undefined;
  return new Date(start + days * DAY_MS).toISOString();
}

/** `paidAccess` (an object, or true, when the download is sold); null, false or absent: free. */
function isPaid(raw: Row): boolean | undefined {
  const paid = raw.paidAccess;
  if (paid === undefined) return undefined;
  if (paid === null || paid === false) return false;
  if (typeof paid === 'object') return (paid as Row).enabled !== false;
  return paid === true;
}

/** A version (full body or summary, slim or not) as the rules read it. */
export function versionFacts(version: ModelVersion | ModelVersionSummary, position?: number): VersionFacts {
  const raw = version as unknown as Row;
  const files = weightFiles(version.files);
  const paid = isPaid(raw);
  const earlyAccessEndsAt = earlyAccessEnd(raw);
  const facts: VersionFacts = { id: version.id };
  const put = <K extends keyof VersionFacts>(key: K, value: VersionFacts[K] | undefined) => {
    if (value !== undefined) facts[key] = value;
  };
  put('name', typeof version.name === 'string' ? version.name : undefined);
  put('baseModel', text(version.baseModel));
  put('baseModelType', text(version.baseModelType));
  put('publishedAt', text(version.publishedAt));
  put('createdAt', text(version.createdAt));
  put('status', text(version.status));
  put('availability', text(raw.availability));
  put('earlyAccessEndsAt', earlyAccessEndsAt);
  put('usageControl', text(raw.usageControl));
  put('paid', paid);
  put('files', files);
  put('position', position ?? (typeof raw.index === 'number' ? raw.index : undefined));
  return facts;
}

/** Every version of a model body, in CivitAI's order (newest first). */
export function modelFacts(model: Pick<Model, 'modelVersions'>): VersionFacts[] {
  return (model.modelVersions ?? []).map((version, position) => versionFacts(version, position));
}

/**
 * `slim` (a parent model without its versions' file lists, as records and sidecars keep it)
 * with what the update rules need of those lists put back: the type and `metadata` of each
 * model-weight file, a few dozen bytes per version, so an update check from a sidecar judges
 * variants as one from a fresh body does.
 */
export function keepFileFacts(slim: Model, full: Model): Model {
  const fullVersions = new Map((full.modelVersions ?? []).map((version) => [version.id, version]));
  return {
    ...slim,
    modelVersions: (slim.modelVersions ?? []).map((version) => {
      const files = fullVersions.get(version.id)?.files;
      if (!files || files.length === 0) return version;
      const seen = new Set<string>();
      const kept: ModelFile[] = [];
      for (const file of files) {
        if (file.type && !WEIGHT_FILE_TYPES.has(file.type.toLowerCase())) continue;
        const metadata = { ...(file.metadata?.fp ? { fp: file.metadata.fp } : {}), ...(file.metadata?.size ? { size: file.metadata.size } : {}), ...(file.metadata?.format ? { format: file.metadata.format } : {}) };
        const key = `${file.type ?? ''}|${metadata.fp ?? ''}|${metadata.size ?? ''}|${metadata.format ?? ''}`;
        if (seen.has(key)) continue;
        seen.add(key);
        kept.push({ ...(file.type ? { type: file.type } : {}), metadata });
      }
      return kept.length > 0 ? { ...version, files: kept } : version;
    }),
  };
}

/** `publishedAt`, else `createdAt`, as epoch ms (undefined: no usable date). */
function dateOf(version: Pick<VersionFacts, 'publishedAt' | 'createdAt'>): number | undefined {
  const time = Date.parse(version.publishedAt ?? version.createdAt ?? '');
  return Number.isNaN(time) ? undefined : time;
}

/**
 * Versions published this close together are ordered by CivitAI's list instead: a model
 * republished at once gets its versions stamped seconds apart in any order (XXMix_9realistic in
 * the recorded checkpoint list: v1.0 stamped 30 s after v4.0).
 */
const SAME_TIME_MS = 60 * 60 * 1000;

/** A version with what the comparisons need worked out once. */
interface Judged {
  facts: VersionFacts;
  time: number | undefined;
  key: FamilyKey;
}

function judged(facts: VersionFacts, files: readonly FileFacts[] | undefined): Judged {
  return { facts, time: dateOf(facts), key: familyKey({ facts, files }) };
}

/**
 * `a` came out after `b`: by date when both have one (an hour apart or more), else by CivitAI's
 * order, newest first; unknown is not newer.
 */
function newer(a: Judged, b: Judged): boolean {
  if (a.time !== undefined && b.time !== undefined && Math.abs(a.time - b.time) >= SAME_TIME_MS) return a.time > b.time;
  const pa = a.facts.position;
  const pb = b.facts.position;
  return pa !== undefined && pb !== undefined && pa < pb;
}

const newestFirst = (a: Judged, b: Judged) => (newer(a, b) ? -1 : newer(b, a) ? 1 : 0);

export function isNewer(a: VersionFacts, b: VersionFacts): boolean {
  return newer(judged(a, undefined), judged(b, undefined));
}

export function flagsOf(version: VersionFacts, options: { ignore: ReadonlySet<number>; now: number }): UpdateFlag[] {
  const flags: UpdateFlag[] = [];
  const endsAt = Date.parse(version.earlyAccessEndsAt ?? '');
  if (version.availability?.toLowerCase() === 'earlyaccess' || (!Number.isNaN(endsAt) && endsAt > options.now)) flags.push('early-access');
  if (version.paid) flags.push('paid');
  if (version.usageControl !== undefined && version.usageControl.toLowerCase() !== 'download') flags.push('on-site-only');
  if (options.ignore.has(version.id)) flags.push('ignored');
  return flags;
}

const isPublished = (version: VersionFacts) => version.status === undefined || version.status.toLowerCase() === 'published';

/** A local file of a model: the version it is, and what the file itself is (extension, metadata). */
export interface LocalFile {
  key: string;
  version: VersionFacts;
  file: FileFacts;
}

export interface ModelUpdateInput {
  local: readonly LocalFile[];
  /** The model's versions, newest first (a full body, a slim one, or the last check's snapshot). */
  versions: readonly VersionFacts[];
  ignore: ReadonlySet<number>;
  now: number;
}

export interface LocalUpdates {
  /** The newest local version of this file's family. */
  newestLocal: VersionFacts;
  /** Keys of the local files of the family. */
  family: string[];
  newer: NewerVersion[];
  /** The side the family was judged from (for describeFamily). */
  side: FamilySide;
}

/** The local file's version with its place in the model's list (a version body has none). */
function localFacts(entry: LocalFile, byId: ReadonlyMap<number, VersionFacts>): VersionFacts {
  const listed = byId.get(entry.version.id);
  return { ...listed, ...entry.version, ...(listed?.position !== undefined ? { position: listed.position } : {}) };
}

function toNewerVersion(version: VersionFacts, options: { ignore: ReadonlySet<number>; now: number }): NewerVersion {
  const flags = flagsOf(version, options);
  const date = version.publishedAt ?? version.createdAt;
  return {
    versionId: version.id,
    name: version.name?.trim() || `Version ${version.id}`,
    ...(version.baseModel ? { baseModel: version.baseModel } : {}),
    ...(date ? { publishedAt: date } : {}),
    flags,
    ...(flags.includes('early-access') && version.earlyAccessEndsAt ? { earlyAccessEndsAt: version.earlyAccessEndsAt } : {}),
  };
}

/** For each local file of one model: its family's newer versions (rules at the top). */
export function modelUpdates(input: ModelUpdateInput): Map<string, LocalUpdates> {
  const localIds = new Set(input.local.map((entry) => entry.version.id));
  const byId = new Map(input.versions.map((version) => [version.id, version]));
  const locals = input.local.map((entry) => {
    const facts = localFacts(entry, byId);
    return { entry, side: { facts, files: [entry.file] } satisfies FamilySide, judged: judged(facts, [entry.file]) };
  });
  const candidates = input.versions.filter((version) => !localIds.has(version.id) && isPublished(version)).map((version) => judged(version, version.files));
  const out = new Map<string, LocalUpdates>();
  // Files of the same version and the same kind of file have the same answer.
  const answers = new Map<string, NewerVersion[]>();
  for (const local of locals) {
    const family = locals.filter((other) => other === local || sameFamilyKey(local.judged.key, other.judged.key));
    let newest = local.judged;
    for (const other of family) if (newer(other.judged, newest)) newest = other.judged;
    const file = local.entry.file;
    const signature = `${local.judged.facts.id}|${newest.facts.id}|${file.fp ?? ''}|${file.size ?? ''}|${file.format ?? ''}`;
    let found = answers.get(signature);
    if (!found) {
      found = candidates
        .filter((candidate) => sameFamilyKey(local.judged.key, candidate.key) && newer(candidate, newest))
        .sort(newestFirst)
        .map((candidate) => toNewerVersion(candidate.facts, input));
      answers.set(signature, found);
    }
    out.set(local.entry.key, { newestLocal: newest.facts, family: family.map((other) => other.entry.key), newer: found, side: local.side });
  }
  return out;
}

/**
 * The versions of the local file's family published after the file's own version, whether the
 * library has them or not (the library report's "newer versions": an old file whose newer
 * version is here too can go), newest first, each with its flags.
 */
export function newerThanOwn(
  own: LocalFile,
  versions: readonly VersionFacts[],
  options: { ignore: ReadonlySet<number>; now: number },
): { version: VersionFacts; flags: UpdateFlag[] }[] {
  const mine = judged(localFacts(own, new Map(versions.map((version) => [version.id, version]))), [own.file]);
  return versions
    .filter((version) => version.id !== own.version.id && isPublished(version))
    .map((version) => judged(version, version.files))
    .filter((candidate) => sameFamilyKey(mine.key, candidate.key) && newer(candidate, mine))
    .sort(newestFirst)
    .map((candidate) => ({ version: candidate.facts, flags: flagsOf(candidate.facts, options) }));
}

/** Counted as an update: no flag. */
export const isCounted = (newer: Pick<NewerVersion, 'flags'>) => newer.flags.length === 0;

type RecordLike = Pick<ModelRecord, 'id' | 'file' | 'hashes' | 'version' | 'model' | 'civitai'> & { updates?: NewerVersion[] | undefined };

/** The model id of an identified record. */
export function modelIdOf(record: RecordLike): number | undefined {
  if (record.civitai.status !== 'identified' || !record.version) return undefined;
  const id = record.version.modelId ?? record.model?.id;
  return typeof id === 'number' ? id : undefined;
}

/** The record's file as a LocalFile: its version, and its own entry of `files` plus its extension. */
export function localFileOf(record: RecordLike): LocalFile | undefined {
  const version = record.version;
  if (!version) return undefined;
  const sha = record.hashes.SHA256?.toUpperCase();
  const files = version.files ?? [];
  const mine = files.find((file) => sha !== undefined && file.hashes?.SHA256?.toUpperCase() === sha) ?? files.find((file) => file.primary) ?? files[0];
  const facts = fileFacts(mine);
  const format = extensionFormat(record.file.ext) ?? facts.format;
  return { key: record.id, version: versionFacts(version), file: { ...facts, ...(format ? { format } : {}) } };
}

/**
 * The updates of every identified record, by record id. `versionsOf(modelId, records)` gives the
 * model's versions to judge against (the freshest data known); records of a model with none,
 * or of a model CivitAI deleted, get `[]`.
 */
export function libraryUpdates(
  records: readonly RecordLike[],
  options: { ignore: ReadonlySet<number>; now: number; versionsOf: (modelId: number, records: readonly RecordLike[]) => readonly VersionFacts[] | undefined },
): Map<string, LocalUpdates> {
  const byModel = Map.groupBy(records.filter((record) => modelIdOf(record) !== undefined), (record) => modelIdOf(record) as number);
  const out = new Map<string, LocalUpdates>();
  for (const [modelId, group] of byModel) {
    const versions = options.versionsOf(modelId, group) ?? [];
    const local = group.map(localFileOf).filter((entry): entry is LocalFile => entry !== undefined);
    for (const [key, value] of modelUpdates({ local, versions, ignore: options.ignore, now: options.now })) out.set(key, value);
  }
  return out;
}

/**
 * Whether a record has a counted update: its `updates` (set by the engine, which knew the whole
 * library, the ignore list and the freshest answers), else worked out from the record alone,
 * with `isLocal` telling which of its model's versions the library has.
 */
export function hasCountedUpdate(record: RecordLike, isLocal: (versionId: number) => boolean, now = Date.now()): boolean {
  if (record.updates) return record.updates.some(isCounted);
  const own = localFileOf(record);
  const modelId = modelIdOf(record);
  if (!own || modelId === undefined || !record.model?.modelVersions?.length) return false;
  const versions = modelFacts(record.model);
  const others: LocalFile[] = versions
    .filter((version) => version.id !== own.version.id && isLocal(version.id))
    .map((version) => ({ key: `version ${version.id}`, version, file: {} }));
  const result = modelUpdates({ local: [own, ...others], versions, ignore: new Set(), now }).get(own.key);
  return result?.newer.some(isCounted) ?? false;
}
