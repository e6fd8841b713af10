#!/usr/bin/env node
// Fails when src/core imports anything but other files of src/core: no node:* modules, no npm packages,
// no adapters. The core is pure (DESIGN.md), so that the engine runs the same live, in a backtest and
// inside a user's own service. Also forbids reading the clock or randomness inside the core.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

/** npm packages the core may import; empty on purpose (see DESIGN.md "The core is pure"). */
const ALLOWED_PACKAGES = [];
const FORBIDDEN_CALLS = [
  /\bDate\.now\s*\(/,
  /\bnew Date\s*\(\s*\)/,
  /\bMath\.random\s*\(/,
  /\bperformance\.now\s*\(/,
  /\bprocess\./,
  /\bsetTimeout\s*\(/,
  /\bsetInterval\s*\(/,
];

const root = resolve(process.argv[2] ?? 'src/core');
const problems = [];

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.ts') && !path.endsWith('.test.ts')) checkFile(path);
  }
}

function checkFile(path) {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const where = `${relative(process.cwd(), path)}:${index + 1}`;
    for (const match of line.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/g)) {
      const specifier = match[1];
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(path), specifier);
        if (!target.startsWith(root))
          problems.push(`${where}: imports ${specifier}, which is outside src/core`);
      } else if (!ALLOWED_PACKAGES.includes(specifier)) {
        problems.push(`${where}: imports "${specifier}"; the core may import only files of src/core`);
      }
    }
    for (const pattern of FORBIDDEN_CALLS) {
      if (pattern.test(line) && !line.trim().startsWith('//') && !line.trim().startsWith('*'))
        problems.push(
          `${where}: uses ${pattern.source.replace(/\\/g, '')}; time and randomness come in as inputs`,
        );
    }
  });
}

walk(root);
if (problems.length > 0) {
  console.error(`core boundary check failed (${problems.length}):\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('core boundary check: ok');
