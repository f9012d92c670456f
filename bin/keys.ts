/**
 * `npm run keys -- <command>`: API key administration. Entry point only; the CLI is in bin/keys/.
 */
import { main } from './keys/main.ts';

process.exitCode = await main(process.argv.slice(2));
