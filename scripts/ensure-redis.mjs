#!/usr/bin/env node
// Runs before `npm test`: the suite needs real redis-server and redis-cli binaries. Where they are
// missing, install them if this is a Debian/Ubuntu machine and we are root; otherwise stop with a
// one-line message naming the install command. Redis tests are never skipped silently.
import { execFileSync, spawnSync } from 'node:child_process';

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

if (has('redis-server') && has('redis-cli')) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && has('apt-get')) {
  console.error('redis-server not found: installing it with apt-get (Debian package redis-server)');
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'redis-server'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    // fall through to the message below
  }
  if (has('redis-server') && has('redis-cli')) process.exit(0);
}

console.error(
  'npm test needs redis-server and redis-cli on PATH: install them with `sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS), then run npm test again.',
);
process.exit(1);
