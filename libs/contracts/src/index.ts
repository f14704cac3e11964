export { ContractError, type ContractErrorCode } from './errors';
export * from './schema';
export { ENVELOPE_MAGIC, ENVELOPE_VERSION, readEnvelope, writeEnvelope, type RawEnvelope } from './envelope';
export { defineMessage, createRegistry, TYPE_HEADER, VERSION_HEADER } from './define';
export type { KafkaRecord, MessageDef, MessageOf, Message, Registry, Route, Upcaster } from './define';
export * from './topics';
export * from './common';
export * from './messages/block-changes';
export * from './messages/dlog';
export * from './messages/plog';
export * from './messages/nucleus-state';
export * from './messages/dsf-commands';
export * from './messages/dsf-events';
export * from './messages/schedule';
export * from './messages/retention';
export * from './messages/nucleus-commands';
export * from './messages/sov';
export * from './messages/dead-letter';
export * from './registry';
export {
  contractSchemaFiles,
  decimalUpTo,
  envelopeJsonSchema,
  ENVELOPE_LAYOUT,
  JSON_SCHEMA_DIALECT,
  jsonSchemaOf,
  messageJsonSchema,
  schemaId,
  schemaIndex,
  schemaPath,
  UPSTREAM_TOPICS,
  type JsonSchema,
} from './json-schema';
