/**
 * Child process [L] of `bench:gateway`: the open-loop load generator of load.ts, driven over
 * IPC one cell at a time, and the streaming clients of streams.ts (time to first token under
 * load). One keep-alive pool per target lives for the whole run.
 */
import { Pool } from 'undici';
import { exitWithParent } from './children.ts';
import { type LoadCommand, type LoadReply, type LoadTarget, runCell } from './load.ts';
import { runStreams } from './streams.ts';

const targets = new Map<string, { target: LoadTarget; pool: Pool }>();
const reply = (message: LoadReply) => process.send?.(message);

process.on('message', (message: LoadCommand) => {
  if (message.type === 'targets') {
    for (const target of message.targets) {
      // Idle connections stay open between one cell of a target and the next.
      const pool = new Pool(target.origin, {
        connections: message.connections,
        keepAliveTimeout: 60_000,
      });
      targets.set(target.name, { target, pool });
    }
    reply({ type: 'ready' });
    return;
  }
  const { id, spec } = message;
  const entry = targets.get(spec.target);
  if (!entry) {
    reply({ type: 'failed', id, message: `no target named ${spec.target}` });
    return;
  }
  const failed = (err: unknown) => reply({ type: 'failed', id, message: String(err) });
  if (message.type === 'streams') {
    runStreams(entry.pool, entry.target, message.spec).then(
      (result) => reply({ type: 'streams-result', id, result }),
      failed,
    );
    return;
  }
  runCell(entry.pool, entry.target, message.spec).then(
    (result) => reply({ type: 'result', id, result }),
    failed,
  );
});

process.on('disconnect', () => process.exit(0));
exitWithParent(() => Promise.all([...targets.values()].map(({ pool }) => pool.close())));
