/** Errors of the catalog service. */
import { CodedError } from '@deltaflow/core';
export type CatalogErrorCode = 'VALIDATION' | 'CONCURRENCY';

export class CatalogError extends CodedError<CatalogErrorCode> {
  constructor(code: CatalogErrorCode, message: string, retriable = false) {
    super(code, message, { retriable });
  }
}
