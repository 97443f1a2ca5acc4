/**
 * Plumbing shared by the benchmark's child processes (fake upstream, floor): they talk to
 * `bench/run.ts` over the IPC channel and exit as soon as it goes away, so a killed or crashed
 * driver never leaves a server behind.
 */
export function reportToParent(message: Record<string, unknown>): void {
  if (process.send) {
    process.send(message);
  } else {
    console.log(JSON.stringify(message));
  }
}

/** Exits when the parent disconnects; answers `{type: 'counters'}` with `counters()`. */
export function exitWithParent(counters: () => Record<string, unknown>): void {
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: any) => {
    if (message?.type === 'counters') {
      reportToParent(counters());
    }
  });
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}
