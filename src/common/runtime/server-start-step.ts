import { OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

/**
 * First-run setup from settings (the bootstrap API key, the console admin) that runs when the
 * gateway server starts, before it listens, and not when a CLI boots the same modules: the
 * CLIs' application contexts have no HTTP adapter, and their operators manage keys and users
 * explicitly.
 */
export abstract class ServerStartStep implements OnApplicationBootstrap {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.adapterHost.httpAdapter) {
      await this.runAtServerStart();
    }
  }

  protected abstract runAtServerStart(): Promise<void>;
}
