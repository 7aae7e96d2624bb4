import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_DOCS } from '../../../../runtime/docs/generate';
import { ERROR_CODES } from '../../../../runtime/errors';
import { REPO } from '../../../helpers/tmp';

describe('generated docs', () => {
  for (const [file, make] of Object.entries(GENERATED_DOCS)) {
    it(`${file} is current (run \`npm run docs\` if this fails)`, () => {
      expect(fs.readFileSync(path.join(REPO, file), 'utf8')).toBe(make());
    });
  }

  it('every error code used in the source is registered', () => {
    const used = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) for (const m of fs.readFileSync(p, 'utf8').matchAll(/'((?:OSZ|HAL)_E_[A-Z_]+)'/g)) used.add(m[1] ?? '');
      }
    };
    walk(path.join(REPO, 'runtime'));
    for (const code of used) expect(Object.keys(ERROR_CODES), code).toContain(code);
  });
});
