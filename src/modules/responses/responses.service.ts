import { Injectable } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiError } from 'src/modules/errors/api-error';
import { JsonObject } from 'src/modules/models/constraints/chat-request';
import {
  parseResponseId,
  responseIdOf,
  toResponseObject,
} from 'src/modules/responses/response-object';
import { answerOf, inputItemsOf, viewOf } from 'src/modules/responses/response-view';
import { ResponseRecord, ResponsesRepository } from 'src/modules/responses/responses.repository';
import { pageItems, ItemPageQuery } from 'src/modules/responses/item-page';

const notFound = () =>
  new ApiError('response_not_found', 'No response with this id belongs to you', { param: null });

/**
 * Reading and deleting stored responses. Ownership is the caller's user: another user's
 * response answers exactly like a missing one (404 `response_not_found`).
 */
@Injectable()
export class ResponsesService {
  constructor(private readonly repository: ResponsesRepository) {}

  async findOwned(auth: AuthContext, id: string): Promise<ResponseRecord> {
    const turnId = parseResponseId(id);
    const record = turnId ? await this.repository.findOwned(auth.userId, turnId) : null;
    if (!record) {
      throw notFound();
    }
    return record;
  }

  async get(auth: AuthContext, id: string): Promise<JsonObject> {
    const record = await this.findOwned(auth, id);
    const messages = await this.repository.turnMessages(record.id);
    return toResponseObject(viewOf(record, answerOf(messages)));
  }

  /** Forgets the response; the messages it added stay in its conversation (as on OpenAI). */
  async delete(auth: AuthContext, id: string): Promise<JsonObject> {
    const record = await this.findOwned(auth, id);
    if (!(await this.repository.deleteOwned(auth.userId, record.id))) {
      throw notFound();
    }
    return { id: responseIdOf(record.id), object: 'response.deleted', deleted: true };
  }

  async inputItems(auth: AuthContext, id: string, query: ItemPageQuery): Promise<JsonObject> {
    const record = await this.findOwned(auth, id);
    const messages = await this.repository.turnMessages(record.id);
    return pageItems(inputItemsOf(messages), query, 'desc');
  }
}
