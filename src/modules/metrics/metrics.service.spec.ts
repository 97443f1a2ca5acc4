import { MetricsService } from 'src/modules/metrics/metrics.service';
import { parseMetrics } from 'test/support/metrics';

describe(MetricsService.name, () => {
  it('exports the streams in flight as parley_active_streams when scraped', async () => {
    const metrics = new MetricsService();
    metrics.streamsInFlight += 3;
    const during = parseMetrics(await metrics.registry.metrics());
    metrics.streamsInFlight -= 3;
    const after = parseMetrics(await metrics.registry.metrics());
    expect([during.value('parley_active_streams'), after.value('parley_active_streams')]).toEqual([
      3, 0,
    ]);
  });
});
