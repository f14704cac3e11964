import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { CONSOLE_DEPS, ConsoleController, type ConsoleDeps } from './console.controller';

/** The console: its controller over the data, the tail and the page bundle made by startConsole. */
@Module({})
export class ConsoleModule implements OnApplicationShutdown {
  constructor(@Inject(CONSOLE_DEPS) private readonly deps: ConsoleDeps) {}

  static register(deps: ConsoleDeps): DynamicModule {
    return { module: ConsoleModule, controllers: [ConsoleController], providers: [{ provide: CONSOLE_DEPS, useValue: deps }] };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.deps.tail.stop();
  }
}
