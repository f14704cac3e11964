import { Module, type DynamicModule } from '@nestjs/common';
import { Assignments } from '@deltaflow/service-kit';
import { SaveWriterController } from './save-writer.controller';
import { SAVE_WRITER_CONFIG, SaveWriterService, type SaveWriterConfig } from './save-writer.service';

@Module({})
export class SaveWriterModule {
  static register(config: SaveWriterConfig): DynamicModule {
    return {
      module: SaveWriterModule,
      controllers: [SaveWriterController],
      providers: [{ provide: SAVE_WRITER_CONFIG, useValue: config }, Assignments, SaveWriterService],
    };
  }
}
