/** The plan for people (`--dry-run` table) and for programs (JSON). */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { toJsonText, writeFileAtomic } from '../util/atomic-write.ts';
import { OrganizeError } from './fsops.ts';
import { PLAN_FORMAT, type OrganizePlan, type PlannedUnit } from './plan.ts';

const VERDICT_LABEL: Record<PlannedUnit['verdict'], string> = {
  ok: 'ok',
  'in-place': 'in place',
  skip: 'skip',
  overwrite: 'overwrite',
  fail: 'FAIL',
};

/**
 * One row per file: action, collision verdict, source → target. Targets are shown relative to
 * their organized root when it is shared, sources as they are.
 */
export function formatPlanTable(plan: OrganizePlan): string {
  const rows: string[][] = [['ACTION', 'VERDICT', 'COLLISION', 'SOURCE', '', 'TARGET']];
  for (const unit of plan.units) {
    for (const [index, file] of unit.files.entries()) {
      const action = file.collision === 'same' || unit.verdict === 'in-place' ? 'none' : unit.verdict === 'skip' || unit.verdict === 'fail' ? '-' : plan.mode;
      rows.push([
        index === 0 ? action : `  ${action}`,
        index === 0 ? VERDICT_LABEL[unit.verdict] : '',
        file.collision,
        index === 0 ? file.source : `+ ${path.basename(file.source)}`,
        '→',
        index === 0 ? file.target : `+ ${path.basename(file.target)}`,
      ]);
    }
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (column === rows[0]!.length - 1 ? 0 : [...(row[column] ?? '')].length))));
  const lines = rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ').trimEnd());
  const count = (verdict: PlannedUnit['verdict']) => plan.units.filter((unit) => unit.verdict === verdict).length;
  const summary = [
    `${count('ok') + count('overwrite')} to ${plan.mode}`,
    `${count('overwrite')} overwriting`,
    `${count('in-place')} already in place`,
    `${count('skip')} skipped`,
    `${count('fail')} failing`,
    `${plan.skipped.length} not organized`,
  ].join(', ');
  const out = [`Organize plan (${plan.mode}, on collision: ${plan.onCollision}, template: ${plan.template})`, ...lines, '', summary];
  for (const unit of plan.units) {
    if (unit.reason && unit.verdict !== 'ok') out.push(`  ${VERDICT_LABEL[unit.verdict]}: ${unit.files[0]?.source}: ${unit.reason}`);
  }
  for (const skipped of plan.skipped) out.push(`  not organized: ${skipped.path}: ${skipped.reason}`);
  for (const warning of plan.warnings) out.push(`  warning: ${warning}`);
  return `${out.join('\n')}\n`;
}

export function planToJson(plan: OrganizePlan): string {
  return toJsonText(plan);
}

/** Writes the plan as JSON (atomically). Keep it outside the library, e.g. in the cache folder. */
export async function writePlanJson(plan: OrganizePlan, file: string): Promise<void> {
  await writeFileAtomic(file, planToJson(plan), { skipIfUnchanged: false });
}

export async function readPlanJson(file: string): Promise<OrganizePlan> {
  const plan = JSON.parse(await readFile(file, 'utf8')) as OrganizePlan;
  if (plan?.format !== PLAN_FORMAT || !Array.isArray(plan.units)) {
    throw new OrganizeError('PLAN', `${file} is not an organize plan (format ${PLAN_FORMAT})`);
  }
  return plan;
}
