import { AuthContext } from 'src/common/types/auth-context';
import { ApiError } from 'src/common/errors/api-error';

/**
 * Keeps keys with role `node` (GPU agents, SPEC "Fleet") to the one thing they are for: a
 * node-report route takes only them (403 `node_role_required` for any other role), and every
 * other API-key route refuses them with 403 `model_access_denied` (no model is served to a node
 * key; the catalog has no separate code and a new one is not worth it for a misconfigured
 * agent). Operator routes never get here: a node key is not the admin token (401 there).
 */
export function admitRole(caller: AuthContext, isNodeReport: boolean): AuthContext {
  if (isNodeReport) {
    if (caller.role !== 'node') {
      throw new ApiError(
        'node_role_required',
        'Only API keys with role "node" may report GPU statistics',
      );
    }
    return caller;
  }
  if (caller.role === 'node') {
    throw new ApiError(
      'model_access_denied',
      'A key with role "node" may only report GPU statistics (POST /api/gpu-stats)',
    );
  }
  return caller;
}
