import { ApiError } from 'src/common/errors/api-error';
import { JsonObject } from 'src/kernel/json';

/** `after`, `limit` and `order` of an item list, as the OpenAI list endpoints take them. */
export interface ItemPageQuery {
  after?: string;
  limit?: string | number;
  order?: string;
}

export const ITEM_LIMIT_DEFAULT = 20;
export const ITEM_LIMIT_MAX = 100;

/**
 * One page of `items` (oldest first as given) in OpenAI's list shape: `data`, `first_id`,
 * `last_id`, `has_more`. `after` is an item id of the previous page; an unknown one → 400.
 */
export function pageItems(
  items: JsonObject[],
  query: ItemPageQuery,
  defaultOrder: 'asc' | 'desc',
): JsonObject {
  const order = query.order ?? defaultOrder;
  if (order !== 'asc' && order !== 'desc') {
    throw new ApiError('invalid_field', 'order must be asc or desc', { param: 'order' });
  }
  const limit = query.limit === undefined ? ITEM_LIMIT_DEFAULT : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > ITEM_LIMIT_MAX) {
    throw new ApiError('invalid_field', `limit must be an integer from 1 to ${ITEM_LIMIT_MAX}`, {
      param: 'limit',
    });
  }
  const ordered = order === 'asc' ? items : items.slice().reverse();
  let start = 0;
  if (query.after !== undefined && query.after !== '') {
    const at = ordered.findIndex((item) => item.id === query.after);
    if (at < 0) {
      throw new ApiError('invalid_field', 'after is not an item of this list', { param: 'after' });
    }
    start = at + 1;
  }
  return listOf(ordered.slice(start, start + limit), start + limit < ordered.length);
}

/** Items in OpenAI's list shape. */
export function listOf(data: JsonObject[], hasMore = false): JsonObject {
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: hasMore,
  };
}
