/**
 * Every Kafka topic of Deltaflow, with its partition key, defined once. Keys keep order
 * where it matters: per database (`dbid`) on dsf.* and nucleus.commands, per stream
 * (`stream`) on sov.*. Each consumed topic has a dead-letter topic `<topic>.dlq`
 * receiving DeadLetter records keyed like the original record.
 */
export const TOPICS = {
  'dsf.block-changes': { keyField: 'dbid' },
  'dsf.dlog': { keyField: 'dbid' },
  'dsf.plog': { keyField: 'dbid' },
  'dsf.nucleus-state': { keyField: 'dbid' },
  'dsf.commands': { keyField: 'dbid' },
  'dsf.events': { keyField: 'dbid' },
  'nucleus.commands': { keyField: 'dbid' },
  'sov.superblocks': { keyField: 'stream' },
  'sov.commands': { keyField: 'stream' },
  'sov.events': { keyField: 'stream' },
} as const;

export type TopicName = keyof typeof TOPICS;
export type DlqTopicName = `${TopicName}.dlq`;

/** Short names for code: `Topic.blockChanges` rather than a string literal scattered around. */
export const Topic = {
  blockChanges: 'dsf.block-changes',
  dlog: 'dsf.dlog',
  plog: 'dsf.plog',
  nucleusState: 'dsf.nucleus-state',
  dsfCommands: 'dsf.commands',
  dsfEvents: 'dsf.events',
  nucleusCommands: 'nucleus.commands',
  sovSuperblocks: 'sov.superblocks',
  sovCommands: 'sov.commands',
  sovEvents: 'sov.events',
} as const satisfies Record<string, TopicName>;

export const ALL_TOPICS = Object.keys(TOPICS) as TopicName[];

/** The dead-letter topic of a topic. */
export function dlqTopic<T extends TopicName>(topic: T): `${T}.dlq` {
  return `${topic}.dlq`;
}

export function isTopicName(name: string): name is TopicName {
  return Object.prototype.hasOwnProperty.call(TOPICS, name);
}

/** The source topic of a dead-letter topic name, or undefined if `name` is not one. */
export function sourceOfDlq(name: string): TopicName | undefined {
  if (!name.endsWith('.dlq')) return undefined;
  const source = name.slice(0, -4);
  return isTopicName(source) ? source : undefined;
}
