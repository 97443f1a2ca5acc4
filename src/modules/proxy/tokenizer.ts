import { boundedPieces } from 'src/common/tokens/token-estimator';

/**
 * The BPE tokenizer (gpt-tokenizer, o200k_base: the one /c1 uses for its history window).
 * Loading it costs ~0.3-1 s of synchronous CPU, so the proxy loads it once at boot
 * (`ChatCompletionsService.onModuleInit`), never on a request's path: a first abandoned stream
 * or first echo answer must not stall the event loop. `encode` and `countTokens` work on
 * `boundedPieces` of the text: a long run of one letter would otherwise cost time quadratic in
 * its length (#22 item 1).
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
      encode: (t) => boundedPieces(t).flatMap((piece) => m.encode(piece)),
      decode: (t) => m.decode(t),
      countTokens: (t) => boundedPieces(t).reduce((sum, piece) => sum + m.countTokens(piece), 0),
    };
    return tokenizer;
  });
  return loading;
}
