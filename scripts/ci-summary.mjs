// Prints the one line CI reads, `N passed, N failed, N skipped`, from vitest's JSON report.
import fs from 'node:fs';

const file = process.argv[2];
let r;
try {
  r = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch {
  console.log('0 passed, 1 failed, 0 skipped');
  process.exit(0);
}
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
// A test file that failed to load counts as a failure even when no test in it ran.
const brokenFiles = (r.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
console.log(`${r.numPassedTests ?? 0} passed, ${(r.numFailedTests ?? 0) + brokenFiles} failed, ${skipped} skipped`);
