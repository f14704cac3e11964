import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { Topic, type TopicMessage } from '@deltaflow/contracts';
import type { DecodedRecord, KafkaEventContext } from '@deltaflow/service-kit';
import { DsimBuilderService } from './dsim-builder.service';

const at = (c: KafkaEventContext) => ({ topic: c.topic, partition: c.partition, offset: c.offset });

/** Thin: the PLOG, save events and DSIM commands to the service. */
@Controller()
export class DsimBuilderController {
  constructor(private readonly builder: DsimBuilderService) {}

  @EventPattern(Topic.plog, { batch: true })
  async onPlog(@Payload() records: DecodedRecord<TopicMessage<'dsf.plog'>>[]): Promise<void> {
    await this.builder.onPlog(records.map((r) => ({ message: r.message, at: at(r.ctx) })));
  }

  @EventPattern(Topic.dsfEvents)
  async onEvent(@Payload() m: TopicMessage<'dsf.events'>, @Ctx() ctx: KafkaEventContext): Promise<void> {
    await this.builder.onEvent(m, at(ctx));
  }

  @EventPattern(Topic.dsfCommands)
  async onCommand(@Payload() m: TopicMessage<'dsf.commands'>, @Ctx() ctx: KafkaEventContext): Promise<void> {
    await this.builder.onCommand(m, at(ctx));
  }
}
