/** Where data sets live on disk: `<dataDir>/datasets/<name>`, names checked by @deltaflow/core's safe-name rule. */
import * as path from 'node:path';
import { safePathIn } from '@deltaflow/core';

/** The directory of every data set of a data directory. */
export const dataSetDir = (dataDir: string): string => path.join(dataDir, 'datasets');

/** The file of data set `name`, guaranteed inside the data set directory (VALIDATION otherwise). */
export function dataSetPath(dataDir: string, name: string): string {
  return safePathIn(dataSetDir(dataDir), name, 'data set name');
}
