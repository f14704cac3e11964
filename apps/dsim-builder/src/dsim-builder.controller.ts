import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { TopicMessage } from '@deltaflow/contracts';
import type { DecodedRecord, KafkaEventContext } from '@deltaflow/service-kit';
import { DsimBuilder } from './dsim-builder';

export const DSIM_BUILDER = Symbol('DSIM_BUILDER');

const at = (c: KafkaEventContext) => ({ topic: c.topic, partition: c.partition, offset: c.offset });

@Controller()
export class DsimBuilderController {
  constructor(@Inject(DSIM_BUILDER) private readonly builder: DsimBuilder) {}

  @EventPattern('dsf.plog', { batch: true })
  async onPlog(@Payload() records: DecodedRecord<TopicMessage<'dsf.plog'>>[]): Promise<void> {
    await this.builder.onPlog(records.map((r) => ({ message: r.message, at: at(r.ctx) })));
  }

  @EventPattern('dsf.events')
  async onEvent(@Payload() m: TopicMessage<'dsf.events'>, @Ctx() ctx: KafkaEventContext): Promise<void> {
    await this.builder.onEvent(m, at(ctx));
  }

  @EventPattern('dsf.commands')
  async onCommand(@Payload() m: TopicMessage<'dsf.commands'>, @Ctx() ctx: KafkaEventContext): Promise<void> {
    await this.builder.onCommand(m, at(ctx));
  }
}
