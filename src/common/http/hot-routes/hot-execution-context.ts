import type { HttpArgumentsHost } from '@nestjs/common/interfaces';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';

/**
 * Nest's execution context for a hot-route request, with `switchToHttp()` answering from the
 * prototype. Nest's own builds three closures and copies them onto the context on every call,
 * and a /v1 request makes four (the three guards, `@CurrentKey()`); the answers are the same:
 * the request, the reply, no `next`.
 */
export class HotExecutionContext extends ExecutionContextHost implements HttpArgumentsHost {
  override switchToHttp(): HttpArgumentsHost {
    return this;
  }

  getRequest<T>(): T {
    return this.getArgByIndex<T>(0);
  }

  getResponse<T>(): T {
    return this.getArgByIndex<T>(1);
  }

  getNext<T>(): T {
    return this.getArgByIndex<T>(2);
  }
}
