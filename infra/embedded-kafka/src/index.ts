export { startEmbeddedKafka, type EmbeddedKafka, type EmbeddedKafkaOptions, type EmbeddedKafkaSaslOptions, type EmbeddedKafkaTlsOptions } from './broker/embedded';
export { addUser, removeUser } from './auth/credentials';
export { SASL_MECHANISMS, type SaslMechanism } from './auth/sasl-session';
export type { FsyncPolicy } from './broker/context';
export { EmbeddedKafkaError, ValidationError } from './errors';
