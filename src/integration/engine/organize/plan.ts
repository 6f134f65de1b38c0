/**
 * Planning: which files go where, with what action, and what is already in the way. Reads the
 * disk (stat, readdir) and changes nothing.
 */
import { lstatSync, readdirSync, readlinkSync, statSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import type { OrganizationConfig, OutputConfig } from '../config/schema.ts';
import type { ModelRecord } from '../records/schema.ts';
import { resolveSidecarLayout } from '../sidecars/paths.ts';
import { isInside } from './sanitize.ts';
import { effectiveTemplate, renderTemplate, unknownPlaceholders, type TemplateOptions } from './template.ts';

export const PLAN_FORMAT = 1;

export type OperationMode = 'symlink' | 'copy' | 'move' | 'hardlink';
export type CollisionPolicy = 'skip' | 'overwrite' | 'fail';
export type FileRole = 'model' | 'metadata' | 'preview' | 'companion';

/**
 * none: target free · same: the target already is this file (nothing to do) · exists: something
 * else is there · planned: another file of this run goes there, or it is a file this run moves
 * away (never overwritten) · directory / blocked: a folder is at the target, or a file stands
 * where a folder is needed.
 */
export type FileCollision = 'none' | 'same' | 'exists' | 'planned' | 'directory' | 'blocked';

/** ok: do it · in-place: nothing to do · skip / overwrite / fail: the collision policy's verdict. */
export type UnitVerdict = 'ok' | 'in-place' | 'skip' | 'overwrite' | 'fail';

export interface PlannedFile {
  role: FileRole;
  source: string;
  target: string;
  collision: FileCollision;
  /** Size when planned (the model's is checked again before it is touched). */
  size: number;
  /** The ledger's SHA-256 (model file only): a cross-device copy must match it. */
  sha256?: string;
}

export interface PlannedUnit {
  recordId: string;
  /** Root of the organized tree this unit goes into (`output_dir` with `{model_dir}` filled). */
  outputRoot: string;
  targetDir: string;
  verdict: UnitVerdict;
  reason?: string;
  /** The model first, then its sidecars and previews: one unit, all or nothing. */
  files: PlannedFile[];
}

export interface SkippedRecord {
  recordId: string;
  path: string;
  reason: string;
}

export interface OrganizePlan {
  format: typeof PLAN_FORMAT;
  createdAt: string;
  mode: OperationMode;
  onCollision: CollisionPolicy;
  template: string;
  outputDir: string;
  units: PlannedUnit[];
  skipped: SkippedRecord[];
  warnings: string[];
}

export interface PlanOptions extends TemplateOptions {
  organization: OrganizationConfig;
  output: OutputConfig;
}

/**
 * Files beside a model that belong to it: `{stem}.json` (our sidecar, or the seed's),
 * `{stem}.civitai.info` (A1111 / Forge), `{stem}.html` (the seed's page), `{stem}.preview.png`
 * and `{stem}.previewN.ext` (previews). Nothing else named `{stem}.*` is ours to move.
 */
export const COMPANION_SUFFIX = /^(?:json|civitai\.info|html|preview\d*\.(?:png|jpe?g|webp|gif|avif|mp4|webm))$/i;

export function planOrganization(records: readonly ModelRecord[], options: PlanOptions): OrganizePlan {
  const { organization, output } = options;
  const template = effectiveTemplate(organization);
  const mode: OperationMode = organization.operation_mode ?? 'copy';
  const onCollision: CollisionPolicy = organization.on_collision ?? 'skip';
  const plan: OrganizePlan = {
    format: PLAN_FORMAT,
    createdAt: new Date().toISOString(),
    mode,
    onCollision,
    template,
    outputDir: organization.output_dir,
    units: [],
    skipped: [],
    warnings: [],
  };
  const unknown = unknownPlaceholders(template);
  if (unknown.length > 0) {
    plan.warnings.push(`template "${template}" has unknown placeholders ${unknown.map((name) => `{${name}}`).join(', ')}; they stay in the folder names as written`);
  }

  const disk = new DiskView();
  const baseDir = output.base_dir ? path.resolve(output.base_dir) : undefined;
  const modelPaths = new Set(records.map((record) => path.resolve(record.file.path)));
  /** Every path this run takes a file from (→ index of its unit). A target there is never overwritten. */
  const claimedSources = new Map<string, number>();
  const drafts: Array<{ record: ModelRecord; unit: PlannedUnit }> = [];

  for (const record of records) {
    const source = path.resolve(record.file.path);
    if (!record.version) {
      plan.skipped.push({ recordId: record.id, path: source, reason: 'not identified on CivitAI (no metadata to organize by)' });
      continue;
    }
    const stats = disk.lstat(source);
    if (!stats || !(stats.isFile() || stats.isSymbolicLink())) {
      plan.skipped.push({ recordId: record.id, path: source, reason: 'the model file is missing' });
      continue;
    }
    if (claimedSources.has(source)) {
      plan.skipped.push({ recordId: record.id, path: source, reason: 'listed twice' });
      continue;
    }
    const outputRoot = resolveOutputRoot(organization.output_dir, source);
    const segments = renderTemplate(template, record, options);
    const targetDir = path.join(outputRoot, ...segments);
    const files: PlannedFile[] = [
      {
        role: 'model',
        source,
        target: path.join(targetDir, path.basename(source)),
        collision: 'none',
        size: Number(stats.size),
        ...(record.hashes.SHA256 ? { sha256: record.hashes.SHA256.toUpperCase() } : {}),
      },
    ];
    const unitIndex = drafts.length;
    claimedSources.set(source, unitIndex);
    for (const companion of findCompanions(record, source, output, baseDir, disk)) {
      if (modelPaths.has(companion.source)) continue;
      const owner = claimedSources.get(companion.source);
      if (owner !== undefined) {
        plan.warnings.push(`${companion.source} belongs to two models (${drafts[owner]?.record.file.path}, ${source}); it goes with the first`);
        continue;
      }
      claimedSources.set(companion.source, unitIndex);
      files.push({ ...companion, target: path.join(targetDir, path.basename(companion.source)), collision: 'none' });
    }
    for (const file of files) {
      if (!isInside(outputRoot, file.target)) {
        throw new Error(`internal error: ${file.target} is outside ${outputRoot}`);
      }
    }
    drafts.push({ record, unit: { recordId: record.id, outputRoot, targetDir, verdict: 'ok', files } });
  }

  const plannedTargets = new Map<string, number>();
  for (const [unitIndex, { unit }] of drafts.entries()) {
    const blocked = blockedAncestor(unit.targetDir, disk);
    for (const file of unit.files) {
      file.collision = blocked ? 'blocked' : collisionOf(file, mode, disk);
      const takenBy = plannedTargets.get(file.target);
      const claimedBy = claimedSources.get(file.target);
      if (file.collision !== 'same' && ((takenBy !== undefined && takenBy !== unitIndex) || (claimedBy !== undefined && claimedBy !== unitIndex))) {
        file.collision = 'planned';
      }
    }
    decideVerdict(unit, onCollision, blocked);
    if (unit.verdict === 'ok' || unit.verdict === 'overwrite') {
      for (const file of unit.files) plannedTargets.set(file.target, unitIndex);
    }
    plan.units.push(unit);
  }
  return plan;
}

/**
 * `output_dir` for one model. `{model_dir}` is the model's folder, except when the model already
 * sits in the organized tree of an ancestor folder (`lora/organized/LORA/x.safetensors`): then that
 * ancestor is used, so a rerun re-sorts within the tree instead of nesting `organized/…/organized`.
 */
export function resolveOutputRoot(outputDir: string, modelPath: string): string {
  if (!outputDir.includes('{model_dir}')) return path.resolve(outputDir);
  const fill = (dir: string) => path.resolve(outputDir.replaceAll('{model_dir}', dir));
  const modelDir = path.dirname(modelPath);
  let ancestor = modelDir;
  for (;;) {
    const root = fill(ancestor);
    if (isInside(root, modelDir)) return root;
    const parent = path.dirname(ancestor);
    if (parent === ancestor) break;
    ancestor = parent;
  }
  return fill(modelDir);
}

function findCompanions(
  record: ModelRecord,
  source: string,
  output: OutputConfig,
  baseDir: string | undefined,
  disk: DiskView,
): Array<Omit<PlannedFile, 'target' | 'collision'>> {
  const dir = path.dirname(source);
  const stem = path.basename(source, path.extname(source));
  const candidates = new Map<string, FileRole>();
  const add = (file: string | undefined, role: FileRole) => {
    if (!file) return;
    const resolved = path.resolve(file);
    if (!candidates.has(resolved)) candidates.set(resolved, role);
  };
  add(record.sidecarPath, 'metadata');
  add(resolveSidecarLayout(record.file, output).metadataPath, 'metadata');
  for (const image of record.images) add(image.path, 'preview');
  for (const name of disk.readdir(dir)) {
    if (!name.startsWith(`${stem}.`)) continue;
    const suffix = name.slice(stem.length + 1);
    if (!COMPANION_SUFFIX.test(suffix)) continue;
    add(path.join(dir, name), suffix.toLowerCase().startsWith('preview') ? 'preview' : 'companion');
  }
  const found: Array<Omit<PlannedFile, 'target' | 'collision'>> = [];
  for (const [file, role] of candidates) {
    // Only what lives beside the model travels with it; a central `base_dir` stays where it is.
    if (file === source || path.dirname(file) !== dir) continue;
    if (baseDir && isInside(baseDir, file)) continue;
    const stats = disk.lstat(file);
    if (!stats || !(stats.isFile() || stats.isSymbolicLink())) continue;
    found.push({ role, source: file, size: Number(stats.size) });
  }
  return found;
}

function collisionOf(file: PlannedFile, mode: OperationMode, disk: DiskView): FileCollision {
  if (file.source === file.target) return 'same';
  const target = disk.lstat(file.target);
  if (!target) return 'none';
  if (target.isDirectory()) return 'directory';
  const source = disk.lstat(file.source);
  if (mode === 'hardlink' && source && target.dev === source.dev && target.ino === source.ino) return 'same';
  if (mode === 'symlink' && target.isSymbolicLink() && disk.readlink(file.target) === file.source) return 'same';
  return 'exists';
}

/** The nearest existing ancestor of `dir`, if it is not a folder (a file where a folder must go). */
function blockedAncestor(dir: string, disk: DiskView): string | undefined {
  let current = dir;
  for (;;) {
    const stats = disk.stat(current);
    if (stats) return stats.isDirectory() ? undefined : current;
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

function decideVerdict(unit: PlannedUnit, policy: CollisionPolicy, blocked: string | undefined): void {
  const collisions = unit.files.map((file) => file.collision);
  if (blocked) {
    unit.verdict = 'fail';
    unit.reason = `${blocked} is a file where a folder is needed`;
  } else if (collisions.includes('directory')) {
    unit.verdict = 'fail';
    unit.reason = `a folder is in the way: ${unit.files.find((file) => file.collision === 'directory')?.target}`;
  } else if (collisions.includes('planned')) {
    // Overwriting another file of this same run would destroy it: never, whatever the policy.
    unit.verdict = policy === 'skip' ? 'skip' : 'fail';
    unit.reason = `another file of this run has the same target: ${unit.files.find((file) => file.collision === 'planned')?.target}`;
  } else if (collisions.includes('exists')) {
    unit.verdict = policy;
    unit.reason = `target exists: ${unit.files.find((file) => file.collision === 'exists')?.target}`;
  } else if (collisions.every((collision) => collision === 'same')) {
    unit.verdict = 'in-place';
  } else {
    unit.verdict = 'ok';
  }
}

/** Memoised stat/readdir, so planning a large library reads each folder once. */
class DiskView {
  #lstat = new Map<string, BigIntStats | null>();
  #stat = new Map<string, BigIntStats | null>();
  #dirs = new Map<string, string[]>();

  lstat(file: string): BigIntStats | null {
    if (!this.#lstat.has(file)) this.#lstat.set(file, quiet(() => lstatSync(file, { bigint: true })));
    return this.#lstat.get(file) ?? null;
  }

  stat(file: string): BigIntStats | null {
    if (!this.#stat.has(file)) this.#stat.set(file, quiet(() => statSync(file, { bigint: true, throwIfNoEntry: false }) ?? null));
    return this.#stat.get(file) ?? null;
  }

  readdir(dir: string): string[] {
    if (!this.#dirs.has(dir)) this.#dirs.set(dir, quiet(() => readdirSync(dir)) ?? []);
    return this.#dirs.get(dir) ?? [];
  }

  readlink(file: string): string | null {
    return quiet(() => readlinkSync(file));
  }
}

function quiet<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}
