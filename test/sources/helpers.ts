import path from 'node:path';
import type { ArchiveEntry } from '../../src/dev/fake-civarchive.ts';
import { buildArchiveDb } from '../../src/dev/fake-civarchive.ts';
import type { Workspace } from '../support/library.ts';

/** The recorded bodies of the sample library's identified files, as the fake CivitAI serves them (hashes bound). */
export async function recordedEntries(workspace: Workspace): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  const seen = new Set<number>();
  for (const entry of workspace.library.entries) {
    if (entry.kind !== 'identified' || !entry.binding || seen.has(entry.binding.versionId)) continue;
    seen.add(entry.binding.versionId);
    const version = await (await fetch(`${workspace.fake.apiBaseUrl}/model-versions/${entry.binding.versionId}`)).json();
    const modelResponse = await fetch(`${workspace.fake.apiBaseUrl}/models/${entry.binding.modelId}`);
    entries.push({ version, ...(modelResponse.ok ? { model: await modelResponse.json() } : {}) });
  }
  workspace.fake.requests.length = 0;
  return entries;
}

export async function archiveFixture(workspace: Workspace, entries: ArchiveEntry[], name = 'archive.sqlite'): Promise<string> {
  const file = path.join(workspace.root, name);
  await buildArchiveDb(file, entries);
  return file;
}

export function identifiedEntries(workspace: Workspace) {
  return workspace.library.entries.filter((entry) => entry.kind === 'identified');
}
