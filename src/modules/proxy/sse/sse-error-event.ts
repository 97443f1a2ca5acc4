import { ApiError } from 'src/common/errors/api-error';

/** The default final error event of a stream: the catalog envelope as one `data:` event. */
export function sseErrorEvent(error: ApiError): string {
  return `data: ${JSON.stringify(error.toEnvelope())}\n\n`;
}
