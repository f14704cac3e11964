// @deltaflow/e2e-support: helpers for integration and end-to-end tests of the Delta Save services over a real broker.
export { Publisher, TopicCollector } from './kafka-harness';
export { SMALL_GEOMETRY, StandInChangeLogger, StandInNucleus, fillImage } from './stand-ins';
