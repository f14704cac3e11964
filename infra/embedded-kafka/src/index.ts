export { startEmbeddedKafka, type EmbeddedKafka, type EmbeddedKafkaOptions } from './broker/embedded';
export type { FsyncPolicy } from './broker/context';
export { EmbeddedKafkaError, ValidationError } from './errors';
