/**
 * dsf.plog: the protection log the change logger derives from dsf.block-changes. Key: dbid.
 * PlogSync repeats each EtSync so that a DSIM builder reading only the PLOG sees the sync
 * points that bound an online save.
 */
import { area, dbid, id, lsn, rabn } from '../common';
import { defineMessage } from '../define';
import { bytes } from '../schema';
import { MAX_BLOCK_IMAGE } from './block-changes';

export const PlogImage = defineMessage({
  type: 'PlogImage',
  version: 1,
  topic: 'dsf.plog',
  fields: { dbid: dbid(), area: area(), rabn: rabn(), lsn: lsn(), image: bytes({ minLength: 1, maxLength: MAX_BLOCK_IMAGE }) },
});

export const PlogSync = defineMessage({
  type: 'PlogSync',
  version: 1,
  topic: 'dsf.plog',
  fields: { dbid: dbid(), lsn: lsn(), syncId: id() },
});

export const PLOG_MESSAGES = [PlogImage, PlogSync] as const;
