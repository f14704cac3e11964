import { Module, type DynamicModule } from '@nestjs/common';
import { Assignments } from '@deltaflow/service-kit';
import { DsimBuilderController } from './dsim-builder.controller';
import { DSIM_BUILDER_CONFIG, DsimBuilderService, type DsimBuilderConfig } from './dsim-builder.service';

@Module({})
export class DsimBuilderModule {
  static register(config: DsimBuilderConfig): DynamicModule {
    return {
      module: DsimBuilderModule,
      controllers: [DsimBuilderController],
      providers: [{ provide: DSIM_BUILDER_CONFIG, useValue: config }, Assignments, DsimBuilderService],
    };
  }
}
