/**
 * Writes CivitAI trigger words into Krita AI Diffusion's `loras.json`.
 *
 * The file is edited in place, value by value: only `metadata.lora_triggers` (and, when asked,
 * `metadata.lora_strength`) of matched entries change; every other byte — other keys, their
 * order, entry order, comment lines, number spellings, line breaks — stays as it was. Inserted
 * values are written like Python's `json.dumps(indent=…)` (Krita's own writer), with non-ASCII as
 * `\uXXXX` escapes: that is what Krita writes itself, and Krita reads the file with the system
 * code page on Windows (`Path.read_text()` without an encoding), where raw UTF-8 would garble.
 *
 * Krita rewrites the whole file whenever its list changes. So we remember size, mtime and a
 * SHA-256 of what we read and check them again right before writing: if the file changed, we
 * write nothing and warn (unless forced, in which case we apply our changes to the new content).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelRecord } from '../records/schema.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import { silentLogger, type Logger } from '../util/logger.ts';
import { unifiedDiff } from './diff.ts';
import {
  applyEdits,
  detectLayout,
  lineIndentAt,
  maskCommentLines,
  memberOf,
  parseJsonWithComments,
  pyDump,
  pyJsonString,
  toPlain,
  type JsonMember,
  type JsonObjectNode,
  type PyLayout,
  type PyValue,
  type TextEdit,
} from './jsonc.ts';
import { KritaEntrySchema, RecordMatcher, type MatchMethod } from './match.ts';
import { formatKritaTriggers, mergeTriggers, type MergePolicy } from './triggers.ts';

export class KritaSyncError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KritaSyncError';
  }
}

export type EntryAction =
  /** Triggers and/or strength changed (or would, in a dry run). */
  | 'updated'
  /** Already what we would write. */
  | 'unchanged'
  /** fill-empty: the entry has triggers of its own, left alone. */
  | 'kept'
  /** Matched, but CivitAI has no trigger words for it (and no strength to write). */
  | 'no-triggers'
  | 'unmatched'
  /** Several different files fit; nothing written. */
  | 'ambiguous'
  /** Not an object with a string `id`; left alone. */
  | 'invalid';

export interface KritaEntryReport {
  /** Position in the array. */
  index: number;
  id: string;
  match: MatchMethod | 'none' | 'ambiguous' | 'invalid';
  action: EntryAction;
  /** `file.relativePath` of the matched record (or of the candidates when ambiguous). */
  records?: string[];
  triggersBefore?: string;
  triggersAfter?: string;
  strengthBefore?: number;
  strengthAfter?: number;
}

export type KritaSyncOutcome =
  /** Changes written (after a backup). */
  | 'written'
  /** Nothing to change: the file was not touched. */
  | 'unchanged'
  /** Changes found but not written (dry run); see `diff`. */
  | 'dry-run'
  /** The file changed on disk after we read it (Krita running?): nothing written. */
  | 'changed-on-disk';

export interface KritaSyncCounts {
  entries: number;
  matched: number;
  byPath: number;
  byHash: number;
  byName: number;
  unmatched: number;
  ambiguous: number;
  invalid: number;
  updated: number;
  unchanged: number;
  kept: number;
  noTriggers: number;
  /** Our records no entry matched. */
  recordsUnmatched: number;
}

export interface KritaSyncReport {
  lorasFile: string;
  policy: MergePolicy;
  dryRun: boolean;
  outcome: KritaSyncOutcome;
  /** Unified diff of the changes (written, or that would be written); `''` when none. */
  diff: string;
  backupPath?: string;
  entries: KritaEntryReport[];
  /** Krita ids no record matched. */
  unmatchedEntries: string[];
  /** `file.relativePath` of our records that no entry matched (not in Krita's list). */
  unmatchedRecords: string[];
  counts: KritaSyncCounts;
  warnings: string[];
}

export interface KritaSyncOptions {
  lorasFile: string;
  records: readonly ModelRecord[];
  policy: MergePolicy;
  /** Sets `metadata.lora_strength` of matched entries (replace: always; otherwise where absent). */
  strength?: number;
  dryRun: boolean;
  /** Write even when the file changed on disk after it was read (changes re-applied to it). */
  force?: boolean;
  /** Folder for `loras.json.bak-<timestamp>`; beside the file by default. */
  backupDir?: string;
  logger?: Logger;
}

// ---------------------------------------------------------------------------------------------
// Pure part: text in, edits out.

export interface KritaSyncComputation {
  text: string;
  newText: string;
  edits: TextEdit[];
  entries: KritaEntryReport[];
  unmatchedRecords: ModelRecord[];
}

/** Computes the changes for `text` (the content of a `loras.json`). Throws KritaSyncError. */
export function computeKritaSync(
  text: string,
  records: readonly ModelRecord[],
  policy: MergePolicy,
  strength?: number,
): KritaSyncComputation {
  let root;
  try {
    root = parseJsonWithComments(text);
  } catch (error) {
    throw new KritaSyncError(`not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (root.kind !== 'array') throw new KritaSyncError(`expected a JSON array of LoRA entries, found ${root.kind === 'object' ? 'an object' : `a ${root.kind}`}`);
  const layout = detectLayout(text, root);
  const masked = maskCommentLines(text);
  const matcher = new RecordMatcher(records);
  const matchedRecords = new Set<ModelRecord>();
  const edits: TextEdit[] = [];
  const entries: KritaEntryReport[] = [];

  root.items.forEach((node, index) => {
    const parsed = node.kind === 'object' ? KritaEntrySchema.safeParse(toPlain(node)) : undefined;
    if (node.kind !== 'object' || !parsed?.success) {
      const id = node.kind === 'object' ? memberOf(node, 'id')?.value : undefined;
      entries.push({ index, id: id?.kind === 'string' ? String(id.value) : '', match: 'invalid', action: 'invalid' });
      return;
    }
    const entry = parsed.data;
    const found = matcher.match(entry);
    if (found.kind === 'none') {
      entries.push({ index, id: entry.id, match: 'none', action: 'unmatched' });
      return;
    }
    if (found.kind === 'ambiguous') {
      entries.push({ index, id: entry.id, match: 'ambiguous', action: 'ambiguous', records: found.candidates.map((record) => record.file.relativePath) });
      return;
    }
    const { record, method } = found;
    matchedRecords.add(record);
    const metadata = isPlainObject(entry.metadata) ? entry.metadata : undefined;
    const currentTriggers = metadata?.lora_triggers;
    const currentStrength = metadata?.lora_strength;
    const report: KritaEntryReport = { index, id: entry.id, match: method, action: 'unchanged', records: [record.file.relativePath] };
    if (typeof currentTriggers === 'string') report.triggersBefore = currentTriggers;
    if (typeof currentStrength === 'number') report.strengthBefore = currentStrength;

    const ours = formatKritaTriggers(record.version?.trainedWords);
    const decision = mergeTriggers(currentTriggers, ours, policy);
    const changes: Record<string, PyValue> = {};
    if (decision.change) changes.lora_triggers = decision.value;
    if (strength !== undefined) {
      const valid = typeof currentStrength === 'number' && Number.isFinite(currentStrength);
      if (!valid || (policy === 'replace' && currentStrength !== strength)) changes.lora_strength = strength;
    }

    if (Object.keys(changes).length > 0) {
      edits.push(...metadataEdits(text, masked, node, changes, layout));
      report.action = 'updated';
      if (typeof changes.lora_triggers === 'string') report.triggersAfter = changes.lora_triggers;
      if (typeof changes.lora_strength === 'number') report.strengthAfter = changes.lora_strength;
    } else if (!decision.change && decision.reason === 'has-triggers') {
      report.action = 'kept';
    } else if (!decision.change && decision.reason === 'no-triggers') {
      report.action = 'no-triggers';
    }
    entries.push(report);
  });

  return {
    text,
    newText: applyEdits(text, edits),
    edits,
    entries,
    unmatchedRecords: records.filter((record) => !matchedRecords.has(record)),
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Edits that set `changes` inside the entry's `metadata` object, creating it when needed. */
function metadataEdits(
  text: string,
  masked: string,
  entry: JsonObjectNode,
  changes: Record<string, PyValue>,
  layout: PyLayout,
): TextEdit[] {
  const metadata = memberOf(entry, 'metadata');
  if (!metadata) return [insertMembers(text, masked, entry, [['metadata', changes]], layout)];
  const node = metadata.value;
  if (node.kind !== 'object') {
    // null or something Krita cannot use: replaced by an object holding our keys.
    return [{ start: node.start, end: node.end, text: pyDump(changes, lineIndentAt(text, metadata.keyStart), layout) }];
  }
  const edits: TextEdit[] = [];
  const missing: [string, PyValue][] = [];
  for (const [key, value] of Object.entries(changes)) {
    const member = memberOf(node, key);
    if (member) edits.push({ start: member.value.start, end: member.value.end, text: pyDump(value, '', layout) });
    else missing.push([key, value]);
  }
  if (missing.length > 0) edits.push(insertMembers(text, masked, node, missing, layout));
  return edits;
}

/** Appends members to an object, in the object's own style (one per line, or inline). */
function insertMembers(
  text: string,
  masked: string,
  node: JsonObjectNode,
  members: readonly [string, PyValue][],
  layout: PyLayout,
): TextEdit {
  const first: JsonMember | undefined = node.members[0];
  const last: JsonMember | undefined = node.members.at(-1);
  if (!first || !last) {
    return { start: node.start, end: node.end, text: pyDump(Object.fromEntries(members), lineIndentAt(text, node.start), layout) };
  }
  let keySeparator = text.slice(first.keyEnd, first.value.start);
  if (/[\r\n]/.test(keySeparator)) keySeparator = ': ';
  const multiline = masked.slice(node.start + 1, first.keyStart).includes('\n');
  const indent = multiline ? lineIndentAt(text, first.keyStart) : lineIndentAt(text, node.start);
  const separator = multiline ? `,${layout.eol}${indent}` : ', ';
  const valueLayout: PyLayout = multiline ? layout : { unit: undefined, eol: layout.eol };
  const inserted = members
    .map(([key, value]) => `${separator}${pyJsonString(key)}${keySeparator}${pyDump(value, indent, valueLayout)}`)
    .join('');
  return { start: last.value.end, end: last.value.end, text: inserted };
}

// ---------------------------------------------------------------------------------------------
// File part: read, plan, check, back up, write.

interface Snapshot {
  size: number;
  mtimeMs: number;
  sha256: string;
}

export interface KritaSyncPlan extends KritaSyncComputation {
  options: KritaSyncOptions;
  /** What the file looked like when read. */
  snapshot: Snapshot;
  diff: string;
}

async function readSnapshot(file: string): Promise<{ bytes: Buffer; snapshot: Snapshot }> {
  let bytes: Buffer;
  let info;
  try {
    info = await stat(file);
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'it does not exist' : (error as Error).message;
    throw new KritaSyncError(`cannot read ${file}: ${reason}`, { cause: error });
  }
  return { bytes, snapshot: { size: info.size, mtimeMs: info.mtimeMs, sha256: createHash('sha256').update(bytes).digest('hex') } };
}

function decode(file: string, bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    throw new KritaSyncError(`${file} is not UTF-8 text; it is left alone`, { cause: error });
  }
}

/** Reads the file and computes what a sync would change; writes nothing. */
export async function planKritaSync(options: KritaSyncOptions): Promise<KritaSyncPlan> {
  const { bytes, snapshot } = await readSnapshot(options.lorasFile);
  const text = decode(options.lorasFile, bytes);
  let computation: KritaSyncComputation;
  try {
    computation = computeKritaSync(text, options.records, options.policy, options.strength);
  } catch (error) {
    if (error instanceof KritaSyncError) throw new KritaSyncError(`${options.lorasFile}: ${error.message}`, { cause: error });
    throw error;
  }
  const diff = unifiedDiff(text, computation.edits, { from: options.lorasFile, to: `${options.lorasFile} (synced)` });
  return { ...computation, options, snapshot, diff };
}

/** Carries out a plan: dry run, unchanged, changed-on-disk check, backup, atomic write. */
export async function applyKritaSyncPlan(initial: KritaSyncPlan): Promise<KritaSyncReport> {
  let plan = initial;
  const { options } = plan;
  const logger = options.logger ?? silentLogger;
  const warnings: string[] = [];
  const file = options.lorasFile;
  let outcome: KritaSyncOutcome;
  let backupPath: string | undefined;

  if (plan.newText === plan.text) {
    outcome = 'unchanged';
  } else if (options.dryRun) {
    outcome = 'dry-run';
    // The diff itself is in the result (`diff`): the CLI prints it as its output.
    logger.info(`krita: dry run, ${file} is not written`);
  } else {
    const now = await readSnapshot(file);
    const changed =
      now.snapshot.size !== plan.snapshot.size ||
      now.snapshot.mtimeMs !== plan.snapshot.mtimeMs ||
      now.snapshot.sha256 !== plan.snapshot.sha256;
    if (changed && !options.force) {
      const message = `${file} changed on disk after it was read (is Krita running? It rewrites the file whenever its LoRA list changes). Nothing was written; close Krita and run again, or force it.`;
      warnings.push(message);
      logger.warn(`krita: ${message}`);
      return buildReport(plan, 'changed-on-disk', warnings);
    }
    if (changed) {
      const message = `${file} changed on disk after it was read; forced: our changes are applied to the new content.`;
      warnings.push(message);
      logger.warn(`krita: ${message}`);
      plan = await planKritaSync(options);
    }
    if (plan.newText === plan.text) {
      outcome = 'unchanged';
    } else {
      backupPath = await writeBackup(file, plan.text, options.backupDir);
      // Through a symlink, replace the file it points to rather than the link.
      const target = await realpath(file).catch(() => file);
      await writeFileAtomic(target, plan.newText, { skipIfUnchanged: false });
      outcome = 'written';
      logger.info(`krita: backup of ${file} written to ${backupPath}`);
    }
  }
  const report = buildReport(plan, outcome, warnings, backupPath);
  logSummary(report, logger);
  return report;
}

/** Reads `loras.json`, matches its entries to `records` and writes the trigger words. */
export async function syncKritaTriggers(options: KritaSyncOptions): Promise<KritaSyncReport> {
  return applyKritaSyncPlan(await planKritaSync(options));
}

function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** `loras.json.bak-20260822T101530Z` (with `-2`, `-3`… when that name is taken). */
async function writeBackup(file: string, content: string, backupDir: string | undefined): Promise<string> {
  const folder = backupDir ?? path.dirname(file);
  await mkdir(folder, { recursive: true });
  const base = path.join(folder, `${path.basename(file)}.bak-${timestamp(new Date())}`);
  for (let attempt = 1; ; attempt += 1) {
    const candidate = attempt === 1 ? base : `${base}-${attempt}`;
    try {
      await writeFile(candidate, content, { encoding: 'utf8', flag: 'wx' });
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new KritaSyncError(`cannot write the backup ${candidate}: ${(error as Error).message}; ${file} was not changed`, { cause: error });
      }
    }
  }
}

function buildReport(plan: KritaSyncPlan, outcome: KritaSyncOutcome, warnings: string[], backupPath?: string): KritaSyncReport {
  const { entries } = plan;
  const count = (predicate: (entry: KritaEntryReport) => boolean) => entries.filter(predicate).length;
  const counts: KritaSyncCounts = {
    entries: entries.length,
    matched: count((entry) => entry.match === 'path' || entry.match === 'hash' || entry.match === 'name'),
    byPath: count((entry) => entry.match === 'path'),
    byHash: count((entry) => entry.match === 'hash'),
    byName: count((entry) => entry.match === 'name'),
    unmatched: count((entry) => entry.action === 'unmatched'),
    ambiguous: count((entry) => entry.action === 'ambiguous'),
    invalid: count((entry) => entry.action === 'invalid'),
    updated: count((entry) => entry.action === 'updated'),
    unchanged: count((entry) => entry.action === 'unchanged'),
    kept: count((entry) => entry.action === 'kept'),
    noTriggers: count((entry) => entry.action === 'no-triggers'),
    recordsUnmatched: plan.unmatchedRecords.length,
  };
  return {
    lorasFile: plan.options.lorasFile,
    policy: plan.options.policy,
    dryRun: plan.options.dryRun,
    outcome,
    diff: plan.diff,
    ...(backupPath ? { backupPath } : {}),
    entries,
    unmatchedEntries: entries.filter((entry) => entry.action === 'unmatched').map((entry) => entry.id),
    unmatchedRecords: plan.unmatchedRecords.map((record) => record.file.relativePath),
    counts,
    warnings,
  };
}

function logSummary(report: KritaSyncReport, logger: Logger): void {
  const c = report.counts;
  const verb = report.outcome === 'dry-run' ? 'would update' : 'updated';
  logger.info(
    `krita: ${c.entries} entries in ${report.lorasFile}: ${c.matched} matched (${c.byPath} by path, ${c.byHash} by hash, ${c.byName} by name), ${verb} ${c.updated}, ${c.kept} kept their own triggers, ${c.unchanged} already up to date, ${c.noTriggers} without CivitAI triggers, ${c.unmatched} not ours${c.ambiguous ? `, ${c.ambiguous} ambiguous` : ''}${c.invalid ? `, ${c.invalid} invalid` : ''}; ${c.recordsUnmatched} of our files are not in Krita's list`,
  );
  for (const entry of report.entries) {
    if (entry.action === 'ambiguous') logger.warn(`krita: "${entry.id}" fits several files (${(entry.records ?? []).join(', ')}); left alone`);
    if (entry.action === 'updated') logger.debug(`krita: "${entry.id}" (${entry.match}) → ${JSON.stringify(entry.triggersAfter ?? entry.triggersBefore ?? '')}`);
  }
}
