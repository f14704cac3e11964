import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { Topic, type TopicMessage } from '@deltaflow/contracts';
import { SaveWriterService } from './save-writer.service';

/** Thin: dsf.commands to the service. Other commands on the topic belong to other services. */
@Controller()
export class SaveWriterController {
  constructor(private readonly saves: SaveWriterService) {}

  @EventPattern(Topic.dsfCommands)
  async onCommand(@Payload() m: TopicMessage<'dsf.commands'>): Promise<void> {
    if (m.type === 'SaveRequested') await this.saves.onSaveRequested(m);
    else if (m.type === 'DataSetExpireRequested' || m.type === 'RetentionSetRequested') await this.saves.onRetentionCommand(m);
  }
}
