/**
 * The admin routes (docs/api.md#admin-api): `/v1/organization/...`, in OpenAI's shapes, served by
 * the gateway core itself (both edges) to admin keys only. The gateway authenticates and routes
 * by key kind before anything else (gateway.ts): a model key here is 403, an admin key anywhere
 * else is 403, so an admin key never reaches the session manager or a model key's buckets.
 */
import type { Principal } from '#authorizer/authorizer';
import type { GatewayRequest, GatewayResponse } from './http.ts';

/** Axon's one project (OpenAI's `project_id`): every model key of a stage belongs to it. */
export const PROJECT_ID = 'default';

/** Every admin route lives under this path; nothing under it is forwarded. */
export const ADMIN_PATH = '/v1/organization';

export function isAdminPath(path: string): boolean {
  return path === ADMIN_PATH || path.startsWith(`${ADMIN_PATH}/`);
}

/** What answers the admin routes, once the caller is known to hold an admin key. */
export interface AdminApi {
  handle(request: GatewayRequest, principal: Principal): Promise<GatewayResponse>;
}
