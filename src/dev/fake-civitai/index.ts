export {
  startFakeCivitai,
  removeEmpty,
  nsfwMask,
  type FakeCivitai,
  type FakeCivitaiOptions,
  type RecordedRequest,
} from './server.ts';
export { Catalog, DEFAULT_FIXTURES_DIR, imageLevel, imageUuid, type CatalogBinding, type ExtraVersion } from './catalog.ts';
export { BODY_FAULT_KINDS, FAULT_KINDS, type BodyFaultKind, type FaultKind, type FaultOptions, type FaultCounts } from './faults.ts';
export { PNG_AS_JPEG_UUID, demoVideo, colourOf } from './media.ts';
export { civitaiHashes, civitaiCrc32, safetensorsDataOffset, type CivitaiHashes, type CivitaiHashType } from './hashes.ts';
