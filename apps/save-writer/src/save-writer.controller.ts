import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import type { TopicMessage } from '@deltaflow/contracts';
import { SaveRunner } from './save-runner';

export const SAVE_RUNNER = Symbol('SAVE_RUNNER');

/** Thin: dsf.commands → the runner. Other commands on the topic belong to other services. */
@Controller()
export class SaveWriterController {
  constructor(@Inject(SAVE_RUNNER) private readonly runner: SaveRunner) {}

  @EventPattern('dsf.commands')
  async onCommand(@Payload() m: TopicMessage<'dsf.commands'>): Promise<void> {
    if (m.type === 'SaveRequested') await this.runner.onSaveRequested(m);
  }
}
