import { Logger } from '@nestjs/common';
import { ApiError } from 'src/common/errors/api-error';

/**
 * Runs a database call of the responses module: catalog errors pass through, anything the
 * database throws becomes 500 `storage_error` (logged), as in the conversations repository.
 */
export async function withStorageErrors<T>(logger: Logger, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ApiError) {
      throw error;
    }
    logger.error(`storage failure: ${error instanceof Error ? error.message : String(error)}`);
    throw new ApiError('storage_error', 'The database could not complete the request', {
      cause: error,
    });
  }
}
