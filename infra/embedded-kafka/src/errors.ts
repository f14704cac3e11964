/**
 * Errors of the embedded broker. Kafka-level outcomes travel as error codes inside responses;
 * these classes are for internal faults and for input the broker refuses before it can answer.
 */
export type EmbeddedKafkaErrorCode =
  | 'MALFORMED_REQUEST'
  | 'FRAME_TOO_LARGE'
  | 'CORRUPT_DATA'
  | 'VALIDATION'
  | 'ILLEGAL_STATE'
  | 'STORAGE';

export class EmbeddedKafkaError extends Error {
  constructor(
    readonly code: EmbeddedKafkaErrorCode,
    message: string,
    readonly retriable = false,
  ) {
    super(message);
    this.name = 'EmbeddedKafkaError';
  }
}

/** A request body or header that does not follow the grammar of its API version. */
export class MalformedRequestError extends EmbeddedKafkaError {
  constructor(message: string) {
    super('MALFORMED_REQUEST', message);
    this.name = 'MalformedRequestError';
  }
}

/** Bytes on disk that fail their length or CRC checks. */
export class CorruptDataError extends EmbeddedKafkaError {
  constructor(message: string) {
    super('CORRUPT_DATA', message);
    this.name = 'CorruptDataError';
  }
}

/** Options or CLI arguments that cannot be used. */
export class ValidationError extends EmbeddedKafkaError {
  constructor(message: string) {
    super('VALIDATION', message);
    this.name = 'ValidationError';
  }
}
