import { describe, expect, inject, it } from 'vitest';
import { RedisServer } from './redis.ts';

describe('test harness', () => {
  it('provides a 3-master cluster with every slot assigned', async () => {
    const nodes = inject('redisClusterNodes');
    expect(nodes).toHaveLength(3);
    const { execFileSync } = await import('node:child_process');
    const info = execFileSync('redis-cli', [
      '-p',
      String(nodes[0]?.port),
      'CLUSTER',
      'INFO',
    ]).toString();
    expect(info).toContain('cluster_state:ok');
    expect(info).toContain('cluster_slots_assigned:16384');
  });

  it('restarts a killed redis-server on the same port', async () => {
    const server = await RedisServer.start({ password: 'harness-secret' });
    try {
      await server.cli('SET', 'k', 'v');
      await server.kill();
      await expect(server.cli('PING')).rejects.toThrow();
      await server.restart();
      expect(await server.cli('PING')).toBe('PONG');
      expect(await server.cli('GET', 'k')).toBe('');
    } finally {
      await server.stop();
    }
  });
});
