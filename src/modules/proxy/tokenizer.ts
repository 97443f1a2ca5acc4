import { Injectable } from '@nestjs/common';
import { countTokens, decode, encode } from 'gpt-tokenizer';
import { boundedPieces } from 'src/common/tokens/token-estimator';

/**
 * The BPE tokenizer (gpt-tokenizer, o200k_base: the one /c1 uses for its history window), as
 * the provider the echo model counts and splits with (UpstreamModule). Its tables cost
 * ~0.3-1 s of synchronous CPU to build; they are built when gpt-tokenizer is first imported, at
 * boot (the token estimator imports it too), never on a request's path. `encode` and
 * `countTokens` work on `boundedPieces` of the text: a long run of one letter would otherwise
 * cost time quadratic in its length.
 */
@Injectable()
export class Tokenizer {
  encode(text: string): number[] {
    return boundedPieces(text).flatMap((piece) => encode(piece));
  }

  decode(tokens: number[]): string {
    return decode(tokens);
  }

  countTokens(text: string): number {
    return boundedPieces(text).reduce((sum, piece) => sum + countTokens(piece), 0);
  }
}
