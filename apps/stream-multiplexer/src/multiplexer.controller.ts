import { Controller, Get } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { Topic, type MessageOfType, type TopicMessage } from '@deltaflow/contracts';
import { StreamMultiplexerService } from './multiplexer.service';
import type { Admission, SpoolContext } from './spool/spool-server';

/**
 * A refusal travels in the admission, not as a throw: Nest's exception layer would turn a thrown
 * error into "Internal server error" and lose its code, which the dead letter must carry.
 */
function refused(err: unknown): Admission {
  return { taken: true, done: Promise.reject(err) };
}

/** Thin: sov.superblocks and sov.commands to the service; the spool settles each record when the service says. */
@Controller()
export class SpoolController {
  constructor(private readonly mux: StreamMultiplexerService) {}

  @EventPattern(Topic.sovSuperblocks)
  onSuperblock(@Payload() sb: MessageOfType<'Superblock'>, @Ctx() ctx: SpoolContext): Admission {
    try {
      return this.mux.onSuperblock(sb, ctx);
    } catch (err) {
      return refused(err);
    }
  }

  @EventPattern(Topic.sovCommands)
  onCommand(@Payload() c: TopicMessage<'sov.commands'>, @Ctx() ctx: SpoolContext): Promise<Admission> {
    return this.mux.onCommand(c, ctx).catch(refused);
  }
}

/** GET /status (streams, devices with their utilisation, memory, the spool per partition); /health and /metrics are the service kit's. */
@Controller()
export class StatusController {
  constructor(private readonly mux: StreamMultiplexerService) {}

  @Get('status')
  status() {
    return this.mux.status();
  }
}
