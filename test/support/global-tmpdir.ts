/**
 * One scratch folder for the whole run. Every synth of a CDK App without an outdir makes its own
 * `cdk.out*` folder under the system temp dir (the kubectl layer alone is tens of MB), and a full
 * run makes hundreds, which nothing removed: the disk of a machine that runs the suite often
 * filled up. Pointing TMPDIR at one folder before the test processes start, and removing that
 * folder when the run ends, bounds what a run leaves behind to nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup() {
  const scratch = mkdtempSync(join(tmpdir(), 'axon-tests-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = scratch;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(scratch, { recursive: true, force: true });
  };
}
