import { Global, Module } from '@nestjs/common';
import { LifecycleService } from 'src/modules/lifecycle/lifecycle.service';

/** Graceful shutdown and the in-flight registry, available everywhere (streams, /c1 turns). */
@Global()
@Module({ providers: [LifecycleService], exports: [LifecycleService] })
export class LifecycleModule {}
