import { Global, Module } from '@nestjs/common';
import { CLOCK, systemClock } from 'src/common/time/clock';

/**
 * Provides `CLOCK` to every module (global: almost every feature reads the time). Modules that
 * are also booted alone (the CLIs) import it themselves.
 */
@Global()
@Module({
  providers: [{ provide: CLOCK, useValue: systemClock }],
  exports: [CLOCK],
})
export class ClockModule {}
