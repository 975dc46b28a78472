import { executeAgent } from "./executeAgent.ts";
import { cancelTrainingRun, getTrainingRun, resumeTrainingRun } from "./runControls.ts";
import { trainAgent } from "./trainAgent.ts";
import type { FunctionDef } from "./registry.ts";

/** Every function callable as POST /functions/{name}. */
export const FUNCTIONS: FunctionDef[] = [trainAgent, executeAgent, getTrainingRun, cancelTrainingRun, resumeTrainingRun] as unknown as FunctionDef[];
