import { Module } from '@nestjs/common';
import { ErrorsController } from 'src/modules/errors/errors.controller';

@Module({ controllers: [ErrorsController] })
export class ErrorsModule {}
