/** Errors of the catalog service. */
export type CatalogErrorCode = 'VALIDATION' | 'CONCURRENCY';

export class CatalogError extends Error {
  constructor(
    readonly code: CatalogErrorCode,
    message: string,
    readonly retriable = false,
  ) {
    super(message);
    this.name = 'CatalogError';
  }
}
