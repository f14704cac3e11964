import { Module, type DynamicModule } from '@nestjs/common';
import { Assignments } from '@deltaflow/service-kit';
import { MergeEngineController } from './merge-engine.controller';
import { MERGE_ENGINE_CONFIG, MergeEngineService, type MergeEngineConfig } from './merge-engine.service';

@Module({})
export class MergeEngineModule {
  static register(config: MergeEngineConfig): DynamicModule {
    return {
      module: MergeEngineModule,
      controllers: [MergeEngineController],
      providers: [{ provide: MERGE_ENGINE_CONFIG, useValue: config }, Assignments, MergeEngineService],
    };
  }
}
