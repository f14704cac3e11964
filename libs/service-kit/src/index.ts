export * from './errors';
export * from './config/service-config';
export * from './kafka/kafka-event-server';
export * from './kafka/event-publisher';
export * from './bootstrap';
export * from './kafka/contract-codec';
export * from './kafka/kafka-client';
export * from './kafka/topic-reader';
