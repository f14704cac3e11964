export { testDatabase, databaseOn, testServerUrl, testServiceUrl, TEST_PG_URL_ENV, TEST_PG_SERVICE_URL_ENV, type TestDatabase } from './test-database';
export { testKafka, type TestKafka } from './test-kafka';
export { tempDir } from './temp-dir';
export { dockerAvailable, dockerAvailableSync, CONTAINER_IMAGES, startKafkaContainer, type KafkaContainer } from './docker';
export { Publisher, TopicCollector } from './kafka-harness';
export { StandInChangeLogger, StandInDsimBuilder, StandInNucleus } from './stand-ins';
export { ServiceProcesses, type ServiceProcessOptions } from './service-processes';
export { DsfDriver, FINAL_EVENTS, type Outcome } from './dsf-driver';
export { freePort } from './free-port';
