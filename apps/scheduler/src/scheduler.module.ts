import { Module, type DynamicModule } from '@nestjs/common';
import { Assignments } from '@deltaflow/service-kit';
import { SchedulerController } from './scheduler.controller';
import { SCHEDULER_CONFIG, SchedulerService, type SchedulerConfig } from './scheduler.service';

@Module({})
export class SchedulerModule {
  static register(config: SchedulerConfig): DynamicModule {
    return {
      module: SchedulerModule,
      controllers: [SchedulerController],
      providers: [{ provide: SCHEDULER_CONFIG, useValue: config }, Assignments, SchedulerService],
    };
  }
}
