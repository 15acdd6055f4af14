// `npm run docs`: rewrite the README's configuration table from the settings (tests/unit/readme.test.ts checks it).
import { readFileSync, writeFileSync } from 'node:fs';
import { replaceConfigTable } from '../src/config/docs.js';

const file = new URL('../README.md', import.meta.url);
writeFileSync(file, replaceConfigTable(readFileSync(file, 'utf8')));
process.stdout.write('README.md configuration table updated\n');
