/**
 * Writes the sample model library: `node src/dev/sample-library/cli.ts <dir>`.
 * Prints one line per file and the `input_paths` block to use.
 */
import { stringify } from 'yaml';
import { generateSampleLibrary, MANIFEST_FILE, sampleInputPaths } from './library.ts';

const dir = process.argv[2];
if (!dir || dir === '--help' || dir === '-h') {
  console.error('usage: node src/dev/sample-library/cli.ts <dir>');
  process.exit(dir ? 0 : 2);
}
const library = await generateSampleLibrary(dir);
for (const e of library.entries) {
  const bound = e.binding ? ` → version ${e.binding.versionId} (model ${e.binding.modelId})` : '';
  console.log(`${e.kind.padEnd(14)} ${String(e.size).padStart(8)}  ${e.relativePath}${bound}`);
}
console.log(`\nmanifest: ${library.root}/${MANIFEST_FILE}\n`);
console.log(stringify({ input_paths: sampleInputPaths(library.root) }));
