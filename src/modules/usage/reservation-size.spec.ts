import { CatalogModel } from 'src/kernel/catalog-model';
import { reservationTokens, SizingCatalog } from 'src/modules/usage/reservation-size';

const model = (alias: string, maxOutputTokens: number, contextWindow: number, maxN?: number) =>
  ({
    alias,
    upstreams: [],
    constraints: {
      minMaxTokens: 1,
      maxOutputTokens,
      contextWindow,
      acceptsImageUrl: false,
      acceptsImages: false,
      typicalResponseSeconds: 1,
      maxN,
    },
  }) satisfies CatalogModel;

const models = [model('small', 100, 1000), model('big', 4000, 32000, 4)];
const catalog: SizingCatalog = {
  get: (alias) => models.find((m) => m.alias === alias),
  list: () => models,
};

const chat = (body: Record<string, unknown>, bodyBytes = 400) =>
  reservationTokens({ route: '/v1/chat/completions', body, bodyBytes }, catalog);

describe(reservationTokens.name, () => {
  it('reserves the input estimate plus max_tokens capped by the model', () => {
    expect(chat({ model: 'small', max_tokens: 10 })).toBe(100 + 10);
    expect(chat({ model: 'small', max_completion_tokens: 10 })).toBe(110);
    expect(chat({ model: 'small', max_tokens: 5000 })).toBe(100 + 100);
    expect(chat({ model: 'small' })).toBe(100 + 100);
    expect(chat({ model: 'small', max_tokens: 'x' })).toBe(100 + 100);
  });

  it('multiplies the output by n, at most the model’s max_n', () => {
    expect(chat({ model: 'big', max_tokens: 10, n: 3 })).toBe(100 + 30);
    expect(chat({ model: 'big', max_tokens: 10, n: 128 })).toBe(100 + 40);
  });

  it('caps the input estimate at the context window', () => {
    expect(chat({ model: 'small', max_tokens: 1 }, 40_000_000)).toBe(1000 + 1);
  });

  it('sizes an unknown or missing model for the largest one in the catalog', () => {
    expect(chat({ model: 'nope', max_tokens: 10 })).toBe(110);
    expect(chat({})).toBe(100 + 4000);
    expect(chat({ max_tokens: 10 }, 400_000)).toBe(32000 + 10);
  });

  it('reserves the whole context window for a /c1 turn (stored history is not in the body)', () => {
    const c1 = (body: Record<string, unknown>) =>
      reservationTokens({ route: '/c1/chat/completions', body, bodyBytes: 100 }, catalog);
    expect(c1({ model: 'small' })).toBe(1000);
    expect(c1({})).toBe(32000);
  });

  it('reserves only the input of an embeddings request', () => {
    const embeddings = reservationTokens(
      { route: '/v1/embeddings', body: { model: 'small', input: 'x' }, bodyBytes: 40 },
      catalog,
    );
    expect(embeddings).toBe(10);
  });
});
