/**
 * One exporter run in a process of its own, built from the environment exactly as the Lambda
 * handler builds it (`exporterFromEnv`), so a test can SIGKILL it mid-run. Its options come as
 * JSON in argv[2]; it prints its report as JSON when it finishes.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { ExportOptions } from '../../../lambda/usage-export/export.ts';
import { exporterFromEnv } from '../../../lambda/usage-export/setup.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as ExportOptions;
const exporter = await exporterFromEnv(
  process.env,
  new Logger({ serviceName: 'usage-export-test', logLevel: 'ERROR' }),
);
try {
  process.stdout.write(`${JSON.stringify(await exporter.run(options))}\n`);
} finally {
  await exporter.close();
}
