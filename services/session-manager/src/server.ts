/**
 * The process: configuration from the environment (config.ts), JSON logs, HTTP timeouts, and a
 * graceful stop on SIGTERM/SIGINT (new requests get 503, in-flight ones finish, connections to
 * Redis and Triton close) within SHUTDOWN_GRACE_MS. Nothing else lives here.
 */
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';
import { ConfigError, loadServerConfig } from './config.ts';

let config: ReturnType<typeof loadServerConfig>;
try {
  config = loadServerConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`session-manager: ${error.message}`);
  process.exit(1);
}

const app = await buildApp({
  ...config.app,
  logger: { level: config.logLevel },
  fastify: {
    // Time to receive a whole request; slow senders do not hold a connection forever.
    requestTimeout: 30_000,
    // Longer than the ALB's 60 s idle timeout, so the ALB closes idle connections first.
    keepAliveTimeout: 65_000,
  },
});

closeWithGrace({ delay: config.shutdownGraceMs }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an unexpected error');
  else app.log.info({ signal }, 'closing');
  await app.close();
});

await app.listen({ port: config.port, host: config.host });
