/**
 * The zonep2v library API. The CLI is a thin layer over these functions; tests call them directly.
 */
export { extract } from './extract/extract.js';
export type { ExtractOptions, ExtractReport, Progress, Warning } from './extract/types.js';
/** how many of a report's warnings mean the tree lacks something the image has (the CLI exits 1) */
export { incompleteMembers } from './extract/types.js';
export { P2VError, isP2VError } from './errors.js';
export type { Entry, EntryType } from './entry.js';
export { listEntries, inspect } from './list.js';
export type { InspectReport, ReadOptions } from './list.js';
