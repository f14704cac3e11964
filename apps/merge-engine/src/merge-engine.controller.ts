import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { Topic, type TopicMessage } from '@deltaflow/contracts';
import { isMergeEngineCommand, MergeEngineService } from './merge-engine.service';

/** Thin: the merge engine's commands on dsf.commands to the service; other commands belong to other services. */
@Controller()
export class MergeEngineController {
  constructor(private readonly engine: MergeEngineService) {}

  @EventPattern(Topic.dsfCommands)
  async onCommand(@Payload() c: TopicMessage<'dsf.commands'>): Promise<void> {
    if (isMergeEngineCommand(c)) await this.engine.onCommand(c);
  }
}
