/** R2 object keys. Every key starts with its app's id (tenancy). */
const seg = (s: string) => encodeURIComponent(s);

export const keys = {
  dataset: (app: string, datasetId: string) => `apps/${seg(app)}/datasets/${datasetId}.jsonl`,
  datasetReport: (app: string, datasetId: string) => `apps/${seg(app)}/datasets/${datasetId}.quality.json`,
  runPrefix: (app: string, runId: string) => `apps/${seg(app)}/runs/${runId}/`,
  stepCheckpoint: (app: string, runId: string, seq: number) => `apps/${seg(app)}/runs/${runId}/steps/${String(seq).padStart(6, "0")}.ckpt`,
  shardState: (app: string, runId: string, seq: number, shard: number) => `apps/${seg(app)}/runs/${runId}/shards/${String(seq).padStart(6, "0")}-${String(shard).padStart(3, "0")}.ckpt`,
  /** A distributed run's layout (src/training/layout.ts). */
  runLayout: (app: string, runId: string) => `apps/${seg(app)}/runs/${runId}/layout.bin`,
  bestModel: (app: string, runId: string, epoch: number) => `apps/${seg(app)}/runs/${runId}/best/epoch-${String(epoch).padStart(4, "0")}.model`,
  /** An agent's memory sketch (src/memory/vectors/agent-cache.ts: toSnapshot). */
  memorySketch: (app: string, agentId: string) => `apps/${seg(app)}/agents/${seg(agentId)}/memory-sketch.bin`,
  versionModel: (app: string, agentId: string, versionId: string) => `apps/${seg(app)}/agents/${seg(agentId)}/versions/${versionId}.model`,
  adaptationData: (app: string, adaptationId: string) => `apps/${seg(app)}/adaptations/${adaptationId}.json`,
  evaluationSuite: (app: string, evaluationId: string) => `apps/${seg(app)}/evaluations/${evaluationId}/suite.json`,
  evaluationPart: (app: string, evaluationId: string, seq: number) => `apps/${seg(app)}/evaluations/${evaluationId}/part-${String(seq).padStart(4, "0")}.json`,
};
