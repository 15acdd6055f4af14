// Covers the README: its configuration table is the one the settings produce (run `npm run docs` after changing a setting).
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { replaceConfigTable } from '../../src/config/docs.js';

it('has the current configuration table', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  expect(readme).toBe(replaceConfigTable(readme));
});

it('shows the two commands', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  expect(readme).toContain('npm start');
  expect(readme).toContain('npm test');
});
