// Writes the generated reference docs (see runtime/docs/generate.ts).
import fs from 'node:fs';
import path from 'node:path';
import { GENERATED_DOCS } from '../runtime/docs/generate';

const root = path.resolve(import.meta.dirname, '..');
for (const [file, make] of Object.entries(GENERATED_DOCS)) {
  fs.writeFileSync(path.join(root, file), make());
  console.log(`wrote ${file}`);
}
