/**
 * One-way doors: Lambda code is bundled and deployed, so it must never reach into the developer
 * tooling beside it (the local stack in local/, the entry points and key CLI in bin/, the tests
 * and benchmarks). This reads every import specifier under lambda/ (static, re-export, dynamic
 * and type-only, via the TypeScript scanner) and resolves it, `#alias/...` through package.json
 * "imports", to the folder it lands in.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/paths.ts';

const FORBIDDEN = ['local', 'bin', 'test', 'bench'];

const aliases = Object.entries(
  (
    JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      imports: Record<string, string>;
    }
  ).imports,
);

/** The repo-relative path a specifier resolves to, or undefined for a package import. */
function resolveSpecifier(fromFile: string, specifier: string): string | undefined {
  if (specifier.startsWith('.')) return relative(REPO_ROOT, resolve(dirname(fromFile), specifier));
  for (const [pattern, target] of aliases) {
    const prefix = pattern.replace(/\*$/, '');
    if (specifier.startsWith(prefix)) {
      return relative(
        REPO_ROOT,
        resolve(REPO_ROOT, target.replace('*', specifier.slice(prefix.length))),
      );
    }
  }
  return undefined;
}

/** Imports in `source` (a file at `file`) that land in a forbidden folder, as `spec -> path`. */
function crossings(file: string, source: string): string[] {
  return ts
    .preProcessFile(source, true, true)
    .importedFiles.map(({ fileName }) => [fileName, resolveSpecifier(file, fileName)] as const)
    .filter(([, target]) => target !== undefined && FORBIDDEN.includes(target.split(sep)[0] ?? ''))
    .map(([specifier, target]) => `${specifier} -> ${target}`);
}

function lambdaFiles(dir = join(REPO_ROOT, 'lambda')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : lambdaFiles(path);
    return /\.[cm]?[jt]s$/.test(entry.name) ? [path] : [];
  });
}

describe('lambda/ imports', () => {
  it('never reach local/, bin/, test/ or bench/', () => {
    const files = lambdaFiles();
    expect(files.length).toBeGreaterThan(20);
    const found = files.flatMap((file) =>
      crossings(file, readFileSync(file, 'utf8')).map((c) => `${relative(REPO_ROOT, file)}: ${c}`),
    );
    expect(found).toEqual([]);
  });

  it('are caught through an alias, a relative path, a re-export, a dynamic or a type-only import', () => {
    const file = join(REPO_ROOT, 'lambda', 'authorizer', 'planted.ts');
    const planted = [
      "import { stateDir } from '#local/state';",
      "import '../../bin/keys/main.ts';",
      "export { x } from '../../test/support/redis.ts';",
      "const m = await import('../../local/stack.ts');",
      "import type { Target } from '../../bin/keys/target.ts';",
      "import { hashKey } from '#authorizer/key-format';",
      "import { Redis } from 'ioredis';",
    ].join('\n');
    expect(crossings(file, planted)).toEqual([
      `#local/state -> ${join('local', 'state.ts')}`,
      `../../bin/keys/main.ts -> ${join('bin', 'keys', 'main.ts')}`,
      `../../test/support/redis.ts -> ${join('test', 'support', 'redis.ts')}`,
      `../../local/stack.ts -> ${join('local', 'stack.ts')}`,
      `../../bin/keys/target.ts -> ${join('bin', 'keys', 'target.ts')}`,
    ]);
  });
});
