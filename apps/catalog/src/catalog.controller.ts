import { BadRequestException, Controller, Get, Inject, Query } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { Topic, type TopicMessage } from '@deltaflow/contracts';
import type { KafkaEventContext } from '@deltaflow/service-kit';
import type { DataSource } from 'typeorm';
import { queryDsims } from './dsims/dsims.projection';
import { queryLineages } from './lineages/lineages.projection';
import type { DsfEvent } from './projection';
import { applyRecord, catalogPosition, stateDigest } from './read-models';
import { queryDlog } from './dlog/dlog.projection';
import { queryRestores } from './restores/restores.projection';
import { querySaves } from './saves/saves.projection';

/** The catalog's PostgreSQL DataSource (read models + checkpoints), provided by CatalogModule. */
export const CATALOG_DB = Symbol('CATALOG_DB');

/** Thin: dsf.events → the read models. */
@Controller()
export class CatalogEventsController {
  constructor(@Inject(CATALOG_DB) private readonly ds: DataSource) {}

  @EventPattern(Topic.dsfEvents)
  async onEvent(@Payload() event: DsfEvent, @Ctx() ctx: KafkaEventContext): Promise<void> {
    // a database fault is retried by the service kit (isRejection: SQLSTATE errors are transient)
    await applyRecord(this.ds, event, { topic: ctx.topic, partition: ctx.partition, offset: ctx.offset });
  }

  @EventPattern(Topic.dlog)
  async onDlog(@Payload() event: TopicMessage<'dsf.dlog'>, @Ctx() ctx: KafkaEventContext): Promise<void> {
    await applyRecord(this.ds, event, { topic: ctx.topic, partition: ctx.partition, offset: ctx.offset });
  }
}

/** `dbid` query parameter: an integer in [1, 65535]. */
export function parseDbid(raw: unknown): number {
  if (typeof raw !== 'string' || raw.length === 0) throw new BadRequestException('dbid: required query parameter, an integer in [1, 65535]');
  if (!/^[1-9][0-9]{0,4}$/.test(raw) || Number(raw) > 65535) {
    throw new BadRequestException(`dbid: expected an integer in [1, 65535], got ${JSON.stringify(raw.slice(0, 32))}`);
  }
  return Number(raw);
}

/** The query API. */
@Controller()
export class CatalogQueryController {
  constructor(@Inject(CATALOG_DB) private readonly ds: DataSource) {}

  @Get('saves')
  saves(@Query('dbid') dbid: unknown) {
    return querySaves(this.ds, parseDbid(dbid));
  }

  @Get('dsims')
  dsims(@Query('dbid') dbid: unknown) {
    return queryDsims(this.ds, parseDbid(dbid));
  }

  @Get('lineages')
  lineages(@Query('dbid') dbid: unknown) {
    return queryLineages(this.ds, parseDbid(dbid));
  }

  @Get('restores')
  restores(@Query('dbid') dbid: unknown) {
    return queryRestores(this.ds, parseDbid(dbid));
  }

  /** ADAREP's Delta Save section: DLOG state, the save chain with DSIDs and lineage, the DSIM, the last merges and restores. */
  @Get('report')
  async report(@Query('dbid') raw: unknown) {
    const dbid = parseDbid(raw);
    return this.ds.transaction('REPEATABLE READ', async (m) => {
      const saves = await querySaves(m, dbid);
      const dsims = await queryDsims(m, dbid);
      return {
        dbid,
        asOf: Date.now(),
        dlog: await queryDlog(m, dbid),
        dsim: dsims.length > 0 ? dsims[dsims.length - 1] : null,
        saves: saves.filter((s) => s.origin === 'save'),
        merges: saves.filter((s) => s.origin === 'merge'),
        restores: await queryRestores(m, dbid),
        lineages: await queryLineages(m, dbid),
      };
    });
  }

  @Get('state-digest')
  async digest() {
    // Read rows and checkpoints in one snapshot so the digest matches the position.
    return this.ds.transaction('REPEATABLE READ', async (m) => {
      const { digest, rows } = await stateDigest(m);
      const position = await catalogPosition(m);
      return { digest, rows, position };
    });
  }
}
