/** What an erasure removes besides rows found by app and agent: the ids whose R2 objects live under their own prefixes. */
export interface ErasureTargets {
  /** The agents erased (the one, or every agent of the app): their isolate caches are dropped. */
  agents: string[];
  runs: string[];
  adaptations: string[];
  evaluations: string[];
  optimizations: string[];
  versions: string[];
  /** Datasets only this agent used (an app's erasure takes every object of the app). */
  datasets: string[];
}

/** The targets of a record written before they were collected at the start (none remain: they are collected with the record). */
export const NO_TARGETS: ErasureTargets = { agents: [], runs: [], adaptations: [], evaluations: [], optimizations: [], versions: [], datasets: [] };
