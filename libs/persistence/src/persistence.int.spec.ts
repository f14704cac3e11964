// eslint-disable-next-line @nx/enforce-module-boundaries -- tests only: the shared fresh-database helper (libs/testing) sits above this lib
import { testDatabase } from '@deltaflow/testing';
import { describePersistenceContract } from './persistence-contract';

describePersistenceContract('the embedded PostgreSQL', () => ({ create: testDatabase }));
