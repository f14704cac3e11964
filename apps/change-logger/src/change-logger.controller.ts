import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { Topic, type TopicMessage } from '@deltaflow/contracts';
import type { UpstreamRecord } from '@deltaflow/dlog';
import type { BatchOutcome, DecodedRecord } from '@deltaflow/service-kit';
import { ChangeLoggerService } from './change-logger.service';

/** Thin: upstream batches and save outcomes to the service. */
@Controller()
export class ChangeLoggerController {
  constructor(private readonly svc: ChangeLoggerService) {}

  @EventPattern(Topic.blockChanges, { batch: true })
  onBlockChanges(@Payload() records: DecodedRecord<UpstreamRecord>[]): Promise<BatchOutcome> {
    return this.svc.onBlockChanges(records);
  }

  @EventPattern(Topic.dsfEvents)
  async onEvent(@Payload() message: TopicMessage<'dsf.events'>): Promise<void> {
    if (message.type === 'SaveStarted' || message.type === 'SaveCompleted' || message.type === 'SaveFailed' || message.type === 'RestoreCompleted') await this.svc.onSaveEvent(message);
  }
}
