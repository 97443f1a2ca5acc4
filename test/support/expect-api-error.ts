import { ERROR_CATALOG, ErrorCode } from 'src/common/errors/error-catalog';
import { GatewayResponse } from 'test/support/start-gateway';

/** Asserts the whole error envelope: status, type (from the catalog), code and param. */
export function expectApiError(
  res: GatewayResponse,
  status: number,
  code: ErrorCode,
  expected: { param?: string | null; message?: string | RegExp } = {},
): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(ERROR_CATALOG[code].status).toBe(status);
  expect(res.body).toEqual({
    error: {
      type: ERROR_CATALOG[code].type,
      code,
      message: expect.any(String),
      param: expected.param === undefined ? res.body?.error?.param : expected.param,
    },
  });
  if (expected.message instanceof RegExp) {
    expect(res.body.error.message).toMatch(expected.message);
  } else if (expected.message !== undefined) {
    expect(res.body.error.message).toBe(expected.message);
  }
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
}
