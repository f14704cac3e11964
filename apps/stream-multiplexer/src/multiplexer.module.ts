import { Module, type DynamicModule } from '@nestjs/common';
import type { StreamMultiplexerConfig } from './config';
import { SpoolController, StatusController } from './multiplexer.controller';
import { MULTIPLEXER_CONFIG, StreamMultiplexerService } from './multiplexer.service';

@Module({})
export class StreamMultiplexerModule {
  static register(config: StreamMultiplexerConfig): DynamicModule {
    return {
      module: StreamMultiplexerModule,
      controllers: [SpoolController, StatusController],
      providers: [{ provide: MULTIPLEXER_CONFIG, useValue: config }, StreamMultiplexerService],
    };
  }
}
