import { Module, type DynamicModule } from '@nestjs/common';
import { Assignments } from '@deltaflow/service-kit';
import { ChangeLoggerController } from './change-logger.controller';
import { CHANGE_LOGGER_CONFIG, ChangeLoggerService, type ChangeLoggerConfig } from './change-logger.service';

@Module({})
export class ChangeLoggerModule {
  static register(config: ChangeLoggerConfig): DynamicModule {
    return {
      module: ChangeLoggerModule,
      controllers: [ChangeLoggerController],
      providers: [{ provide: CHANGE_LOGGER_CONFIG, useValue: config }, Assignments, ChangeLoggerService],
    };
  }
}
