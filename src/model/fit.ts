/**
 * In-process training: the same steps the queue runs, driven in a loop with
 * the best epoch's weights kept in memory. Used by the benchmark and tests.
 */
import type { Example, Hyper } from "./hyper.ts";
import { prepareWork, type Prepared } from "./prepare.ts";
import { planRun, type Plan } from "./plan.ts";
import { cloneTensors, finalizeModelWork, initState, trainStepWork, type EpochMetrics, type StepReport } from "./trainer.ts";
import { finish, type Work } from "./work.ts";
import { decodeModel, type AgentModel } from "./model.ts";

export interface FitResult {
  model: AgentModel;
  plan: Plan;
  epochs: EpochMetrics[];
  best_epoch: number;
}

export function fit(examples: readonly Example[], hyper: Hyper, onStep?: (r: StepReport, plan: Plan) => void): FitResult {
  return finish(fitWork(examples, hyper, onStep));
}

/** `fit` on data already prepared (an adaptation run's, say). */
export function fitPrepared(prepared: Prepared, hyper: Hyper, onStep?: (r: StepReport, plan: Plan) => void): FitResult {
  return finish(fitPreparedWork(prepared, hyper, onStep));
}

/** `fit` as pausable work (an optimization trial inside a queue message). */
export function* fitWork(examples: readonly Example[], hyper: Hyper, onStep?: (r: StepReport, plan: Plan) => void): Work<FitResult> {
  return yield* fitPreparedWork(yield* prepareWork(examples, hyper), hyper, onStep);
}

export function* fitPreparedWork(prepared: Prepared, hyper: Hyper, onStep?: (r: StepReport, plan: Plan) => void): Work<FitResult> {
  const plan = planRun(prepared.train.length, prepared.valid.length, hyper);
  const state = initState(prepared, hyper);
  const epochs: EpochMetrics[] = [];
  let best = cloneTensors(state.params);
  for (let seq = 1; seq <= plan.train_steps; seq++) {
    const r = yield* trainStepWork(state, prepared, hyper, plan, seq);
    epochs.push(...r.epochs);
    if (r.improved) best = r.best_model ? decodeModel(r.best_model).params : cloneTensors(state.params);
    onStep?.(r, plan);
    if (r.stop) break;
  }
  const { model } = yield* finalizeModelWork(best, plan.refit ? state.params : null, prepared, hyper);
  return { model, plan, epochs, best_epoch: state.progress.best_epoch };
}
