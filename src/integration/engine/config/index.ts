/** Public surface of the config module: load, validate, pick jobs, redact. */
export { configSearchPaths, findConfigFile, loadConfig, NOT_FOUND_HINT, parseConfig, redactConfig } from './load.ts';
export type { LoadConfigOptions, LoadedConfig, ParseConfigOptions } from './load.ts';
export { ConfigError, formatIssue, isConfigError } from './errors.ts';
export type { ConfigErrorCode, ConfigIssue } from './errors.ts';
export { DEFAULT_JOB_NAME, defaultScanJob, selectJobs } from './jobs.ts';
export type { SelectedJob, SelectJobsOptions } from './jobs.ts';
export * from './schema.ts';
