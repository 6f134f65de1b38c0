/** The shapes a host's own pages work with: one model file's record, and the config. */
export { ModelRecordSchema, ModelRecordSchema as modelsSchema } from './engine/records/schema.ts';
export type { ModelRecord, LocalImage, Hashes, HashType } from './engine/records/schema.ts';
export { ConfigSchema } from './engine/config/schema.ts';
export type { Config } from './engine/config/schema.ts';
