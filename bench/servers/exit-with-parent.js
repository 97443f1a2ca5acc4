'use strict';
// Preloaded into the gateway by bench/run.ts (`node -r ./bench/servers/exit-with-parent.js
// dist/main.js`): when the benchmark driver goes away (Ctrl-C, crash, SIGKILL) its IPC channel
// closes and the gateway exits too. Nothing here runs on the request path.
if (process.send) {
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  process.channel && process.channel.unref();
}
