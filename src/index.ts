/**
 * PQL as a library: the detection engine, definition parsing and validation, and the store interface, so a
 * Node service can embed detection without the server.
 */
export { createEngine } from './core/engine/create-engine.js';
export type { Engine, EngineOptions, EngineStats, AccountSummary } from './core/engine/create-engine.js';
export type {
  Transition,
  QualifiedTransition,
  CorrectedTransition,
  ExpiredTransition,
  Explanation,
  ClauseExplanation,
  QualificationRecord,
  Truth,
} from './core/engine/transition.js';
export { parseEvent, parseEventLine, serializeEvent } from './core/events/parse-event.js';
export type {
  ProductEvent,
  AccountEvent,
  TraitChange,
  TraitSource,
  Tick,
  EngineInput,
  TrackEvent,
  PageEvent,
  IdentifyEvent,
  GroupEvent,
  AliasEvent,
} from './core/events/event.js';
export { parseDefinition, parseDefinitionSet } from './core/definitions/parse-definition.js';
export { definitionJsonSchema } from './core/definitions/definition-json-schema.js';
export { parseDuration, formatDuration } from './core/definitions/duration.js';
export type * from './core/definitions/definition.js';
export type { Issue, Parsed } from './core/issues.js';
export {
  loadDefinitionsFromPath,
  loadDefinitionFile,
  formatDefinitionFileProblem,
} from './config/definition-files.js';
export type {
  LoadedDefinition,
  DefinitionFileProblem,
  DefinitionFilesResult,
} from './config/definition-files.js';
export type * from './store/store.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
export { Detector } from './runtime/detector.js';
