/**
 * Child process of the kill -9 test: runs one organizer call and SIGKILLs itself at probe point
 * `killAt` (a real kill -9: no finally blocks, no flushing). Usage: node kill-child.ts <args.json>
 */
import { readFileSync } from 'node:fs';
import { applyPlan, readPlanJson, recoverIncompleteRuns, undoRun, type OrganizeStep } from '../../src/integration/engine/organize/index.ts';

interface ChildArgs {
  action: 'apply' | 'recover' | 'undo';
  planFile?: string;
  journalDir: string;
  killAt?: number;
  forceCrossDevice?: boolean;
  chunkSize?: number;
  keepTrash?: boolean;
}

const args = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as ChildArgs;
let steps = 0;
const onStep = (step: OrganizeStep) => {
  steps = step.n;
  if (args.killAt !== undefined && step.n >= args.killAt) process.kill(process.pid, 'SIGKILL');
};
const hooks = { onStep, forceCrossDevice: args.forceCrossDevice, chunkSize: args.chunkSize };

if (args.action === 'apply') {
  const plan = await readPlanJson(args.planFile ?? '');
  await applyPlan(plan, { journalDir: args.journalDir, keepTrash: args.keepTrash, ...hooks });
} else if (args.action === 'recover') {
  await recoverIncompleteRuns(args.journalDir, hooks);
} else {
  await undoRun({ journalDir: args.journalDir, ...hooks });
}
process.stdout.write(JSON.stringify({ steps }));
