/**
 * The BPE tokenizer (gpt-tokenizer, o200k_base: the one /c1 uses for its history window).
 * Loading it costs ~0.3-1 s of synchronous CPU, so the proxy loads it once at boot
 * (`ChatCompletionsService.onModuleInit`), never on a request's path: a first abandoned stream
 * or first echo answer must not stall the event loop.
 */
export interface Tokenizer {
  encode(text: string): number[];
  decode(tokens: number[]): string;
  countTokens(text: string): number;
}

let tokenizer: Tokenizer | null = null;
let loading: Promise<Tokenizer> | null = null;

export function loadTokenizer(): Promise<Tokenizer> {
  if (tokenizer) {
    return Promise.resolve(tokenizer);
  }
  loading ??= import('gpt-tokenizer').then((m) => {
    tokenizer = {
      encode: (t) => m.encode(t),
      decode: (t) => m.decode(t),
      countTokens: (t) => m.countTokens(t),
    };
    return tokenizer;
  });
  return loading;
}
