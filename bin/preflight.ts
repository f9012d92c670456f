/**
 * `npm run preflight -- --stage <stage>`: checks the AWS account, and that the versions the stack
 * pins (EKS add-ons, GPU AMI release, Triton image tag) exist, before a deploy. Entry point only;
 * the checks are in lib/preflight/.
 */
import { main } from '../lib/preflight/run.ts';

// The SDK's Node 20 end-of-support notice is noise in a report; package.json engines covers it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.exitCode = await main(process.argv.slice(2));
