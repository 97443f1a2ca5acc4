import Anthropic from '@anthropic-ai/sdk';

/** The Anthropic SDK's error for a call expected to fail: status plus the body (`err.error`). */
export async function anthropicSdkError(
  promise: Promise<unknown>,
): Promise<InstanceType<typeof Anthropic.APIError>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Anthropic.APIError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected the SDK call to fail');
}
