export {
  generateSampleLibrary,
  loadSampleLibrary,
  sampleInputPaths,
  MANIFEST_FILE,
  SAMPLE_INPUT_FOLDERS,
  type SampleLibrary,
  type SampleEntry,
  type SampleKind,
  type SampleBinding,
  type SampleInputPath,
} from './library.ts';
