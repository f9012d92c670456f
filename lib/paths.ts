/**
 * Absolute paths into the repository, so the app synthesizes the same from any working directory
 * (the CDK CLI, vitest, an IDE).
 */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export function repoPath(...parts: string[]): string {
  return [REPO_ROOT.replace(/\/$/, ''), ...parts].join('/');
}
