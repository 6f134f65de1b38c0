/**
 * Organizing a library: plan → apply → undo, with a journal so that no file is ever lost.
 *
 *   const plan = planOrganization(records, { organization: job.organization, output: job.output });
 *   if (dryRun) { print(formatPlanTable(plan)); await writePlanJson(plan, file); }
 *   else {
 *     await recoverIncompleteRuns(journalDir);          // a previous crash: roll it back first
 *     const result = await applyPlan(plan, { journalDir, logger });
 *     // move mode: records follow their files (result.relocations, relocateRecord)
 *   }
 *   await undoRun({ journalDir });                      // `organize --undo [RUN]`
 */
export { renderTemplate, placeholderValues, knownPlaceholderValues, effectiveTemplate, roundHalfStep, rawRating, weightedRating, weightedThumbsUp, PLACEHOLDERS } from './template.ts';
export type { Placeholder, TemplateOptions } from './template.ts';
export { sanitizeSegment, MAX_SEGMENT_BYTES } from './sanitize.ts';
export { planOrganization, resolveOutputRoot, COMPANION_SUFFIX } from './plan.ts';
export type {
  OrganizePlan,
  PlannedUnit,
  PlannedFile,
  PlanOptions,
  OperationMode,
  CollisionPolicy,
  FileCollision,
  UnitVerdict,
  FileRole,
  SkippedRecord,
} from './plan.ts';
export { applyPlan, undoRun, latestUndoable, noRunToUndo, recoverIncompleteRuns, relocateRecord } from './apply.ts';
export type {
  ApplyOptions,
  UndoOptions,
  ExecutionHooks,
  OrganizeStep,
  OrganizeResult,
  UnitOutcome,
  UnitStatus,
  Relocation,
  UndoResult,
  RecoveryResult,
} from './apply.ts';
export { formatPlanTable, planToJson, writePlanJson, readPlanJson } from './report.ts';
export { OrganizeError } from './fsops.ts';
export { listRuns, summarizeRuns, changedSomething } from './journal.ts';
export type { RunInfo, RunSummary } from './journal.ts';
