#!/usr/bin/env node
/**
 * Writes services/session-manager/package-lock.json from the repository's root lock file.
 *
 * The Docker build context is this folder alone, so `npm ci` in the image needs a lock file of
 * its own. Cutting it out of the root lock file (this package's dependency closure, at the same
 * resolved versions) makes the image run exactly the versions the tests ran, with no registry
 * lookup. Run it after changing this package's dependencies; `--check` exits 1 when the
 * committed file is stale (a test runs that).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, '..');
const rootDir = join(pkgDir, '..', '..');
const workspacePath = 'services/session-manager';

const rootLock = JSON.parse(readFileSync(join(rootDir, 'package-lock.json'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));

/** Where npm would find `name` when required from the package installed at `from`. */
function resolve(from, name) {
  let base = from;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (rootLock.packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut === -1 ? '' : base.slice(0, cut);
  }
}

const prodRoots = Object.keys(pkg.dependencies ?? {});
const devRoots = Object.keys(pkg.devDependencies ?? {});
const included = new Map(); // lock path -> dev-only?

function walk(names, from, dev) {
  for (const name of names) {
    const path = resolve(from, name);
    if (!path)
      throw new Error(
        `${name} (needed by ${from || 'the package'}) is not in the root lock file; run npm install`,
      );
    const known = included.get(path);
    if (known !== undefined && (known === false || dev)) continue;
    included.set(path, dev);
    const entry = rootLock.packages[path];
    const optionalPeers = Object.entries(entry.peerDependenciesMeta ?? {})
      .filter(([, meta]) => meta?.optional)
      .map(([peer]) => peer);
    const next = [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.optionalDependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}).filter((peer) => !optionalPeers.includes(peer)),
    ];
    walk(
      next.filter(
        (dep) => resolve(path, dep) || !Object.keys(entry.optionalDependencies ?? {}).includes(dep),
      ),
      path,
      dev,
    );
  }
}

walk(prodRoots, workspacePath, false);
walk(devRoots, workspacePath, true);

const packages = {
  '': {
    name: pkg.name,
    version: pkg.version,
    license: pkg.license,
    ...(pkg.dependencies ? { dependencies: pkg.dependencies } : {}),
    ...(pkg.devDependencies ? { devDependencies: pkg.devDependencies } : {}),
  },
};
for (const path of [...included.keys()].sort()) {
  const { dev: _dev, ...entry } = rootLock.packages[path];
  packages[path] = { ...entry, ...(included.get(path) ? { dev: true } : {}) };
}
const lock = { name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages };
const text = `${JSON.stringify(lock, null, 2)}\n`;
const target = join(pkgDir, 'package-lock.json');

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {}
  if (current !== text) {
    console.error(`${target} is stale; run: node ${workspacePath}/scripts/sync-lockfile.mjs`);
    process.exit(1);
  }
  console.log('package-lock.json is current');
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target} (${included.size} packages)`);
}
