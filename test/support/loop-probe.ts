/**
 * Polls `${url}/healthz` one request at a time until `stop()` and records the slowest answer:
 * from another process, the longest the gateway's event loop was held (plus one round trip).
 * A poll that gets no answer within `timeoutMs` counts as that long and ends the probe.
 */
export interface LoopProbe {
  /** Stops polling; resolves with the slowest /healthz answer seen, in ms. */
  stop(): Promise<number>;
}

export function probeHealthz(url: string, timeoutMs = 5_000, gapMs = 10): LoopProbe {
  let isStopped = false;
  let slowest = 0;
  const loop = (async () => {
    while (!isStopped) {
      const startedAt = performance.now();
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
        await res.arrayBuffer();
      } catch {
        slowest = Math.max(slowest, timeoutMs);
        return;
      }
      slowest = Math.max(slowest, performance.now() - startedAt);
      await new Promise((r) => setTimeout(r, gapMs));
    }
  })();
  return {
    stop: async () => {
      isStopped = true;
      await loop;
      return slowest;
    },
  };
}

/**
 * The gateway's own measure of its event loop: `parley_process_nodejs_eventloop_lag_max_seconds`
 * (prom-client's `monitorEventLoopDelay` histogram, reset at every scrape), in ms. Scrape once
 * to start a window, do the work, scrape again (at least a second later: the text is rendered
 * at most once a second) for the longest delay within it.
 */
export async function eventLoopLagMaxMs(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/metrics`, { headers });
  const text = await res.text();
  const match = /^parley_process_nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text);
  if (!match) {
    throw new Error(`no event-loop lag in /metrics (status ${res.status})`);
  }
  return Number(match[1]) * 1000;
}
