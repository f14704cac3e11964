import { BadRequestException, Controller, Get, Inject, Query } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { parseDbid } from '../catalog.controller';
import { CATALOG_DB } from '../sovadm/sovadm.service';
import { querySchedules } from './schedules.projection';

/** GET /schedules[?dbid=N][&steps=K]: the sample schedules and their last K steps (default 100). */
@Controller()
export class SchedulesController {
  constructor(@Inject(CATALOG_DB) private readonly ds: DataSource) {}

  @Get('schedules')
  schedules(@Query('dbid') dbid: unknown, @Query('steps') steps: unknown) {
    let k = 100;
    if (steps !== undefined) {
      if (typeof steps !== 'string' || !/^\d{1,5}$/.test(steps) || Number(steps) < 1 || Number(steps) > 10_000) throw new BadRequestException(`steps: expected an integer in [1, 10000], got ${JSON.stringify(steps).slice(0, 40)}`);
      k = Number(steps);
    }
    return querySchedules(this.ds, { ...(dbid !== undefined ? { dbid: parseDbid(dbid) } : {}), steps: k });
  }
}
