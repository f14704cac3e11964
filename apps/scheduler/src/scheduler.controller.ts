import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { Topic, type TopicMessage } from '@deltaflow/contracts';
import { SchedulerService } from './scheduler.service';

/** Thin: `dsf schedule define | remove` to the service; other commands belong to other services (their correlation ids are read from the log). */
@Controller()
export class SchedulerController {
  constructor(private readonly scheduler: SchedulerService) {}

  @EventPattern(Topic.dsfCommands)
  async onCommand(@Payload() c: TopicMessage<'dsf.commands'>): Promise<void> {
    if (c.type === 'ScheduleDefineRequested' || c.type === 'ScheduleRemoveRequested') await this.scheduler.onCommand(c);
  }
}
