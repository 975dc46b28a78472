import { executeAgent } from "./executeAgent.ts";
import { cancelTrainingRun, getTrainingRun, listTrainingRuns, resumeTrainingRun } from "./runControls.ts";
import { trainAgent } from "./trainAgent.ts";
import { configureAgent } from "./configureAgent.ts";
import { adaptAgentBehavior, getAdaptation } from "./adaptAgentBehavior.ts";
import { getVersion, listAgents, listVersions, promoteVersion, rollbackAgent } from "./versions.ts";
import { getEvaluation, listEvaluations, testAgent } from "./testAgent.ts";
import { getExperiment, getRollout, listTrafficSplits, startExperiment, startRollout, stopTrafficSplit } from "./deploy.ts";
import { getMetrics, recordMetric } from "./metrics.ts";
import { analyzeAndOptimize, getOptimization, setOptimizationSchedule } from "./optimize.ts";
import { listWebhookSecrets, rotateWebhookSecret, submitFeedback } from "./feedback.ts";
import { detectPII, redactPII, setPIIPolicy } from "./pii.ts";
import { createDatasetFromExecutions, generateSyntheticData } from "./datasets.ts";
import { getMemoryIndex, reembedAgentMemories } from "./memories.ts";
import { configureAnswerer, getLLMCredentials, setLLMCredentials } from "./llm.ts";
import { deleteAgent, deleteApp, getErasure } from "./erasure.ts";
import type { CallableFunction } from "./registry.ts";

/** Every function callable as POST /functions/{name}. */
export const FUNCTIONS: readonly CallableFunction[] = [trainAgent, executeAgent, getTrainingRun, listTrainingRuns, cancelTrainingRun, resumeTrainingRun, configureAgent, listAgents, submitFeedback, rotateWebhookSecret, listWebhookSecrets, adaptAgentBehavior, getAdaptation, listVersions, getVersion, promoteVersion, rollbackAgent, testAgent, getEvaluation, listEvaluations, startRollout, getRollout, startExperiment, getExperiment, listTrafficSplits, stopTrafficSplit, recordMetric, getMetrics, analyzeAndOptimize, getOptimization, setOptimizationSchedule, detectPII, redactPII, setPIIPolicy, createDatasetFromExecutions, generateSyntheticData, reembedAgentMemories, getMemoryIndex, setLLMCredentials, getLLMCredentials, configureAnswerer, deleteAgent, deleteApp, getErasure];
