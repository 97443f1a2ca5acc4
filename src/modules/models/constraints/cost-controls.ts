import { WIRE_FORMATS } from 'src/modules/proxy/wire/wire-formats';
import type { IncomingHttpHeaders } from 'node:http';
import { HEADER } from 'src/common/http/headers';
import { ApiError } from 'src/common/errors/api-error';
import { CatalogModel, ModelConstraints } from 'src/kernel/catalog-model';
import { JsonObject, isJsonObject } from 'src/kernel/json';

/**
 * Request fields that spend what the operator did not allow (issue #22 item 6): several
 * choices per request, a paid service tier, provider-side storage, tools the provider runs
 * (web search, code execution, MCP connections) and beta features, all billed to the
 * operator's upstream key. Each is refused with 400 `invalid_field` at its exact `param` unless
 * the model's catalog constraints allow it (`max_n`, `allowed_service_tiers`,
 * `allowed_server_tools`, `allowed_betas`; by default nothing). Pure functions over the raw
 * body, like the other request checks.
 */

/** Client tools: the model only asks, the client runs them. Every other type runs upstream. */
const OPENAI_CLIENT_TOOL_TYPES = new Set(['function']);
const ANTHROPIC_CLIENT_TOOL_TYPES = new Set(['custom']);

/**
 * Request fields that make the provider run something itself; allowed when their name is in
 * `allowed_server_tools`, like a tool type.
 */
const SERVER_TOOL_FIELDS = ['web_search_options', 'mcp_servers', 'container'] as const;

const refuse = (param: string, message: string) =>
  new ApiError('invalid_field', message, { param });

/** `n`, `service_tier`, `store`, provider-side tools: /v1 and /c1 chat completions. */
export function checkChatCostControls(body: JsonObject, model: CatalogModel): void {
  const constraints = model.constraints;
  checkChoices(body.n, constraints.maxN ?? 1, model.alias);
  checkServiceTier(body.service_tier, constraints, model.alias);
  if (body.store !== undefined && body.store !== null && body.store !== false) {
    throw refuse(
      'store',
      'store must be false or absent: the gateway does not let the provider keep completions',
    );
  }
  checkServerFields(body, constraints, model.alias);
  checkToolTypes(body.tools, OPENAI_CLIENT_TOOL_TYPES, 'function', constraints, model.alias);
}

/**
 * The Anthropic Messages body (/v1/messages, /c1/messages): `service_tier`, server tools,
 * `mcp_servers`, `container`, `betas` in the body. The `anthropic-beta` header is checked by
 * `checkAnthropicBetaHeader`.
 */
export function checkMessagesCostControls(body: JsonObject, model: CatalogModel): void {
  const constraints = model.constraints;
  checkServiceTier(body.service_tier, constraints, model.alias);
  checkServerFields(body, constraints, model.alias);
  checkToolTypes(body.tools, ANTHROPIC_CLIENT_TOOL_TYPES, 'custom', constraints, model.alias);
  if (Array.isArray(body.betas)) {
    body.betas.forEach((beta: unknown, i: number) => {
      if (typeof beta !== 'string' || !isAllowed(constraints.allowedBetas, beta)) {
        throw refuse(`betas[${i}]`, betaMessage(String(beta), model.alias));
      }
    });
  } else if (body.betas !== undefined && body.betas !== null) {
    throw refuse('betas', 'betas must be an array of strings');
  }
}

/**
 * The client's `anthropic-beta` header goes to Messages-native (`anthropic`) upstreams with the operator's key:
 * every beta it names must be in the model's `allowed_betas`. Models without an `anthropic`
 * upstream never forward it, so it is not checked there (Anthropic clients send betas by
 * habit).
 */
export function checkAnthropicBetaHeader(headers: IncomingHttpHeaders, model: CatalogModel): void {
  if (!model.upstreams.some((u) => WIRE_FORMATS[u.format].isMessagesNative)) {
    return;
  }
  const value = headers[HEADER.anthropicBeta];
  if (value === undefined) {
    return;
  }
  for (const beta of [value].flat().flatMap((v) => v.split(','))) {
    const name = beta.trim();
    if (name !== '' && !isAllowed(model.constraints.allowedBetas, name)) {
      throw refuse(HEADER.anthropicBeta, betaMessage(name, model.alias));
    }
  }
}

function checkChoices(n: unknown, maxN: number, alias: string): void {
  if (n === undefined || n === null) {
    return;
  }
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > maxN) {
    throw refuse(
      'n',
      maxN === 1
        ? `n must be 1: model "${alias}" answers one choice per request`
        : `n must be an integer from 1 to ${maxN} for model "${alias}"`,
    );
  }
}

function checkServiceTier(tier: unknown, constraints: ModelConstraints, alias: string): void {
  if (tier === undefined || tier === null) {
    return;
  }
  if (typeof tier !== 'string' || !isAllowed(constraints.allowedServiceTiers, tier)) {
    const allowed = constraints.allowedServiceTiers ?? [];
    throw refuse(
      'service_tier',
      allowed.length === 0
        ? `service_tier is not accepted for model "${alias}"`
        : `service_tier must be one of ${allowed.map((t) => JSON.stringify(t)).join(', ')} for model "${alias}"`,
    );
  }
}

function checkServerFields(body: JsonObject, constraints: ModelConstraints, alias: string): void {
  for (const field of SERVER_TOOL_FIELDS) {
    const value = body[field];
    if (value === undefined || value === null || isAllowed(constraints.allowedServerTools, field)) {
      continue;
    }
    // mcp_servers: point at the URL the provider would connect to (SPEC "param").
    const param =
      field === 'mcp_servers' && Array.isArray(value) && value.length > 0
        ? isJsonObject(value[0]) && value[0].url !== undefined
          ? 'mcp_servers[0].url'
          : 'mcp_servers[0]'
        : field;
    throw refuse(
      param,
      `${field} makes the provider run tools for model "${alias}", which the gateway does not allow`,
    );
  }
}

function checkToolTypes(
  tools: unknown,
  clientTypes: ReadonlySet<string>,
  clientTypeName: string,
  constraints: ModelConstraints,
  alias: string,
): void {
  if (!Array.isArray(tools)) {
    return;
  }
  tools.forEach((tool: unknown, i: number) => {
    if (!isJsonObject(tool) || tool.type === undefined || tool.type === null) {
      return;
    }
    const type = tool.type;
    if (typeof type === 'string' && clientTypes.has(type)) {
      return;
    }
    if (typeof type !== 'string' || !isAllowed(constraints.allowedServerTools, type)) {
      throw refuse(
        `tools[${i}].type`,
        `tools[${i}].type ${JSON.stringify(type)} is a tool the provider runs, not allowed for model "${alias}"; use "${clientTypeName}" tools`,
      );
    }
  });
}

function isAllowed(list: readonly string[] | undefined, value: string): boolean {
  return list !== undefined && list.includes(value);
}

function betaMessage(beta: string, alias: string): string {
  return `The beta ${JSON.stringify(beta.slice(0, 100))} is not allowed for model "${alias}"`;
}
