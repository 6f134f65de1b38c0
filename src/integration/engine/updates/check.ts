/**
 * The update check behind `civitscraper updates`: the parent model of every identified file,
 * asked with `/models?ids=` in pages of 100 (then `/models/:id` for what a page leaves out,
 * engine/enrich/parents.ts) through the state store's HTTP cache with a 24 h TTL, so a daily run
 * costs one request per 100 models at most and a second run the same day none.
 *
 * What a failure does: nothing. A model that could not be asked keeps the answer of the last
 * check (updates.json) or what the scan stored, and says so; a known update never turns into
 * "no update" because CivitAI was down. `offline` and `no-remote` ask nothing (a model id tells
 * CivitAI what you have as surely as a hash) and use the last answers, with their age; so does
 * a host switched off in the config (`sources.civitai.enabled: false`) for the models it would
 * be asked about.
 */
import path from 'node:path';
import { createCivitaiClient, type CivitaiClient, type ResponseStore } from '../civitai/client.ts';
import type { Model } from '../civitai/schemas.ts';
import type { Config } from '../config/schema.ts';
import { fetchParentModels, UPDATE_CHECK_TTL_SECONDS } from '../enrich/parents.ts';
import type { ModelRecord } from '../records/schema.ts';
import type { NetworkMode } from '../sources/chain.ts';
import { acquireCacheLock, openStateStore, type StateStore } from '../state/index.ts';
import type { Logger } from '../util/logger.ts';
import { isCounted, libraryUpdates, modelFacts, modelIdOf } from './rules.ts';
import type { ModelSnapshot, UpdateEntry, UpdateReport, UpdateState } from './schema.ts';
import { freshestVersions } from './stage.ts';
import { readUpdateState, writeUpdateState } from './state.ts';
import { describeFamily } from './variant.ts';

export interface CheckUpdatesOptions {
  config: Config;
  /** The library's records (from its sidecars: the `updates` command runs the engine offline first). */
  records: readonly ModelRecord[];
  network: NetworkMode;
  logger: Logger;
  signal?: AbortSignal;
  /** Ask again even when a stored answer is under a day old. */
  forceRefresh?: boolean;
  /** Ask, but leave updates.json as it is. */
  dryRun?: boolean;
  now?: () => number;
  /** Injected by tests; built from `config.api` otherwise (and `sources.civitai_red` for models found there). */
  clients?: { civitai?: CivitaiClient; civitai_red?: CivitaiClient };
}

type Answer = UpdateEntry['answer'];

export async function checkUpdates(options: CheckUpdatesOptions): Promise<UpdateReport> {
  const { config, logger } = options;
  const now = options.now ?? Date.now;
  const cacheDir = config.scanner.cache_dir;
  const checkedAt = new Date(now()).toISOString();
  const records = options.records.filter((record) => modelIdOf(record) !== undefined);
  const state = await readUpdateState(cacheDir, logger);
  const answers = new Map<number, Answer>();
  const fresh = new Map<number, ModelSnapshot>();
  let requests = 0;

  const hosts = new Map<'civitai' | 'civitai_red', Set<number>>();
  for (const record of records) {
    const host = record.civitai.source === 'civitai_red' && config.sources.civitai_red.enabled ? 'civitai_red' : 'civitai';
    hosts.set(host, (hosts.get(host) ?? new Set()).add(modelIdOf(record) as number));
  }

  // A host switched off in the config is not asked, whatever the network mode.
  const notAsked: NonNullable<UpdateReport['notAsked']> = [];
  for (const [host, ids] of hosts) {
    if (config.sources[host].enabled) continue;
    hosts.delete(host);
    notAsked.push({ source: host, models: ids.size, reason: `sources.${host}.enabled is false` });
  }

  if (options.network === 'online' && hosts.size > 0) {
    let store: StateStore | undefined;
    try {
      store = openStateStore(cacheDir, { logger });
    } catch (error) {
      logger.warn(`updates: the state store in ${path.resolve(cacheDir)} cannot be used (${(error as Error).message}); every model is asked again`);
    }
    try {
      for (const [host, ids] of hosts) {
        const hits = new Map<number, number>();
        const client = options.clients?.[host] ?? createClient(config, host, store, hits, options);
        const before = client.stats.apiRequests;
        const parents = await fetchParentModels(client, ids);
        requests += client.stats.apiRequests - before;
        for (const id of ids) {
          const model = parents.models.get(id);
          const cachedAt = hits.get(id);
          const fetchedAt = new Date(cachedAt ?? now()).toISOString();
          if (model) {
            fresh.set(id, snapshotOf(model, host, fetchedAt));
            answers.set(id, { from: cachedAt !== undefined ? 'cache' : 'network', fetchedAt });
          } else if (parents.missing.has(id)) {
            fresh.set(id, { fetchedAt, host, missing: true, versions: state.models[String(id)]?.versions ?? [] });
            answers.set(id, { from: cachedAt !== undefined ? 'cache' : 'network', fetchedAt });
          } else {
            answers.set(id, { from: 'none', error: parents.failed.get(id) ?? 'no answer' });
          }
        }
      }
    } finally {
      store?.close();
    }
  }

  const merged: UpdateState = { ...state, models: { ...state.models } };
  for (const [id, snapshot] of fresh) merged.models[String(id)] = snapshot;
  if (fresh.size > 0 && !options.dryRun) await saveSnapshots(cacheDir, fresh, logger, options.signal);

  // What is known of the models not asked now: the last check's answer, else the scan's.
  for (const [id, group] of groupByModel(records)) {
    const known = answers.get(id);
    if (known && known.from !== 'none') continue;
    const snapshot = state.models[String(id)];
    const snapshotAt = Date.parse(snapshot?.fetchedAt ?? '');
    const scannedAt = Math.max(...group.map((record) => Date.parse(record.civitai.checkedAt ?? '') || 0));
    const error = known?.error;
    const from: Answer = snapshot && snapshotAt >= scannedAt
      ? { from: 'snapshot', fetchedAt: snapshot.fetchedAt }
      : scannedAt > 0 && group.some((record) => record.model?.modelVersions?.length)
        ? { from: 'sidecar', fetchedAt: new Date(scannedAt).toISOString() }
        : { from: 'none' };
    answers.set(id, { ...from, ...(error ? { error } : {}) });
  }

  const ignore = new Set([...config.updates.ignore, ...merged.ignore]);
  const results = libraryUpdates(records, {
    ignore,
    now: now(),
    versionsOf: (modelId, group) => freshestVersions(modelId, group as ModelRecord[], merged),
  });
  const entries = buildEntries(records, results, answers, config);
  const used = [...answers.values()];
  const times = used.map((answer) => Date.parse(answer.fetchedAt ?? '')).filter((time) => !Number.isNaN(time));
  const count = (from: Answer['from']) => used.filter((answer) => answer.from === from).length;
  return {
    checkedAt,
    network: options.network,
    models: {
      total: answers.size,
      network: count('network'),
      cache: count('cache'),
      snapshot: count('snapshot'),
      sidecar: count('sidecar'),
      failed: used.filter((answer) => answer.error !== undefined).length,
      missing: [...fresh.values()].filter((snapshot) => snapshot.missing).length,
      ...(times.length > 0 ? { oldestAnswerAt: new Date(Math.min(...times)).toISOString() } : {}),
    },
    entries,
    counted: entries.reduce((sum, entry) => sum + entry.newer.filter(isCounted).length, 0),
    ignore: [...ignore].sort((a, b) => a - b),
    requests,
    ...(notAsked.length > 0 ? { notAsked } : {}),
  };
}

/** A client on the state store's cache that notes which answers came from it, and when they were fetched. */
function createClient(
  config: Config,
  host: 'civitai' | 'civitai_red',
  store: StateStore | undefined,
  hits: Map<number, number>,
  options: CheckUpdatesOptions,
): CivitaiClient {
  const api = host === 'civitai_red' ? { ...config.api, base_url: config.sources.civitai_red.base_url } : config.api;
  const tracking: ResponseStore | undefined = store && {
    get(key, maxAgeSeconds) {
      const hit = store.cache.get(key, maxAgeSeconds);
      const id = /\/models\/(\d+)$/.exec(key)?.[1];
      if (hit && id !== undefined && hit.status === 200) hits.set(Number(id), hit.fetchedAt);
      return hit;
    },
    set: (key, value) => store.cache.set(key, value),
  };
  return createCivitaiClient(api, {
    logger: options.logger,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(tracking
      ? { cache: { store: tracking, maxAgeSeconds: Math.min(config.scanner.cache_validity, UPDATE_CHECK_TTL_SECONDS), bypass: options.forceRefresh === true } }
      : {}),
  });
}

function snapshotOf(model: Model, host: string, fetchedAt: string): ModelSnapshot {
  return { fetchedAt, host, ...(model.name ? { name: model.name } : {}), versions: modelFacts(model) };
}

/**
 * Writes the new answers into updates.json under the cache lock, over what is there now (an
 * `--ignore` given meanwhile survives). A write that fails costs the next check a request, no more.
 */
async function saveSnapshots(cacheDir: string, fresh: Map<number, ModelSnapshot>, logger: Logger, signal?: AbortSignal): Promise<void> {
  try {
    const lock = await acquireCacheLock(cacheDir, { logger, job: 'updates', ...(signal ? { signal } : {}) });
    try {
      // A damaged file is moved aside before it is written over (it holds the --ignore list).
      const current = await readUpdateState(cacheDir, logger, { damaged: 'before-write' });
      for (const [id, snapshot] of fresh) current.models[String(id)] = snapshot;
      await writeUpdateState(cacheDir, current);
    } finally {
      lock.release();
    }
  } catch (error) {
    if (signal?.aborted) throw error;
    logger.warn(`updates: the answers could not be saved in ${cacheDir} (${(error as Error).message}); the gallery shows them after the next successful check`);
  }
}

function groupByModel<T extends ModelRecord>(records: readonly T[]): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const record of records) {
    const id = modelIdOf(record);
    if (id === undefined) continue;
    const group = out.get(id);
    if (group) group.push(record);
    else out.set(id, [record]);
  }
  return out;
}

function buildEntries(
  records: readonly ModelRecord[],
  results: ReturnType<typeof libraryUpdates>,
  answers: Map<number, Answer>,
  config: Config,
): UpdateEntry[] {
  const byId = new Map(records.map((record) => [record.id, record]));
  const entries: UpdateEntry[] = [];
  for (const [modelId, group] of groupByModel(records)) {
    const seen = new Set<string>();
    for (const record of group) {
      const result = results.get(record.id);
      if (!result || result.newer.length === 0) continue;
      const familyKey = [...result.family].sort().join('\0');
      if (seen.has(familyKey)) continue;
      seen.add(familyKey);
      const members = result.family.map((key) => byId.get(key)).filter((member): member is ModelRecord => member !== undefined);
      const newestLocal = members.find((member) => member.version?.id === result.newestLocal.id) ?? record;
      const nsfw = Boolean(record.model?.nsfw ?? record.version?.model?.nsfw);
      const domain = nsfw ? config.api.domains.nsfw : config.api.domains.sfw;
      const type = record.model?.type ?? record.version?.model?.type ?? undefined;
      entries.push({
        modelId,
        model: (record.model?.name ?? record.version?.model?.name ?? record.file.stem).trim() || record.file.stem,
        ...(type ? { type } : {}),
        family: describeFamily(result.side),
        local: {
          versionId: result.newestLocal.id,
          name: newestLocal.version?.name?.trim() || `Version ${result.newestLocal.id}`,
          ...((result.newestLocal.publishedAt ?? result.newestLocal.createdAt) ? { publishedAt: (result.newestLocal.publishedAt ?? result.newestLocal.createdAt) as string } : {}),
          paths: members.map((member) => member.file.path).sort(),
        },
        newer: result.newer.map((newer) => ({ ...newer, counted: isCounted(newer), url: `https://${domain}/models/${modelId}?modelVersionId=${newer.versionId}` })),
        answer: answers.get(modelId) ?? { from: 'none' },
      });
    }
  }
  return entries.sort((a, b) => a.model.localeCompare(b.model) || a.modelId - b.modelId || a.family.localeCompare(b.family));
}
