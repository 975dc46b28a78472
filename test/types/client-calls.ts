/**
 * Type tests of the typed client (src/client), compiled by test/node/client-types.test.ts with
 * test/types/tsconfig.json — the client alone, without Workers types. The seed's calls type-check; each
 * wrong payload below must be a compile error (@ts-expect-error fails the build when it is not).
 */
import { ArchonError, createClient, type FunctionOutput, type RunView } from "../../src/client/index.ts";

const client = createClient({ baseUrl: "http://127.0.0.1:8787", apiKey: "ak_example" });

export async function seedCalls(): Promise<void> {
  const started = await client.functions.trainAgent({
    agent_id: "agent_abc123",
    training_data: [{ input: "where is my parcel", expected_output: "It ships within two days." }],
    training_type: "supervised",
    config: { epochs: 5, learning_rate: 0.002, distributed: { workers: 4 } },
  });
  const runId: string = started.run_id;
  // Federated: one shard per dataset of the app.
  const federated = await client.functions.trainAgent({ agent_id: "agent_abc123", dataset_ids: ["north", "south"] });
  const shards: string[] | null = federated.dataset_ids;
  void shards;
  for await (const run of client.runs.watch(runId)) {
    const epochs: RunView["metrics"]["epochs"] = run.metrics.epochs;
    void epochs;
  }
  await client.functions.adaptAgentBehavior({ agent_id: "agent_abc123", adaptation_strategy: "reinforcement", reward_function: "maximize_success" });
  const optimization: FunctionOutput<"analyzeAndOptimize"> = await client.functions.analyzeAndOptimize({
    agent_id: "agent_abc123",
    optimization_goals: ["minimize_latency", "maximize_accuracy", "optimize_cost"],
  });
  void optimization;
  await client.functions.testAgent({ agent_id: "agent_abc123", test_suite: [{ input: "hi", expected: "hello" }], evaluation_criteria: ["accuracy"] });
  const answer = await client.functions.executeAgent({ agent_id: "agent_abc123", input: "where is my parcel" });
  const confidence: number = answer.confidence;
  void confidence;
  const memory = await client.asServiceRole.entities.AgentMemory.create({ agent_id: "agent_abc123", memory_type: "semantic", content: { text: "parcels ship in two days" } });
  await client.asServiceRole.entities.AgentMemory.list({ agent_id: "agent_abc123" }, "-importance", 10, 0);
  await client.asServiceRole.entities.AgentMemory.bulkCreate([{ agent_id: "agent_abc123", memory_type: "episodic", content: { text: "asked about refunds" } }]);
  await client.asServiceRole.entities.AgentMemory.search({ agent_id: "agent_abc123", query: "shipping" });
  await client.asServiceRole.entities.AgentMemory.delete(memory.id);
  try {
    await client.functions.getTrainingRun({ run_id: runId });
  } catch (e) {
    if (e instanceof ArchonError) console.log(e.status, e.code, e.issues.map((i) => i.path));
  }
}

export async function wrongPayloads(): Promise<void> {
  // @ts-expect-error agent_id is required
  await client.functions.trainAgent({ training_data: [{ input: "a", expected_output: "b" }] });
  // @ts-expect-error epochs is a number
  await client.functions.trainAgent({ agent_id: "a", training_data: [], config: { epochs: "5" } });
  // @ts-expect-error an unknown config lever
  await client.functions.trainAgent({ agent_id: "a", training_data: [], config: { epoch: 5 } });
  // @ts-expect-error workers is a number or "auto"
  await client.functions.trainAgent({ agent_id: "a", training_data: [], config: { distributed: { workers: "many" } } });
  // @ts-expect-error dataset_ids is a list of datasets
  await client.functions.trainAgent({ agent_id: "a", dataset_ids: "north" });
  // @ts-expect-error no such function
  await client.functions.trainAgnet({ agent_id: "a" });
  // @ts-expect-error adaptation_strategy must be one of the four strategies
  await client.functions.adaptAgentBehavior({ agent_id: "a", adaptation_strategy: "magic" });
  // @ts-expect-error an optimization goal outside the list
  await client.functions.analyzeAndOptimize({ agent_id: "a", optimization_goals: ["be_better"] });
  // @ts-expect-error evaluation_criteria holds criteria names
  await client.functions.testAgent({ agent_id: "a", test_suite: [{ input: "x", expected: "y" }], evaluation_criteria: [42] });
  // @ts-expect-error input is a string
  await client.functions.executeAgent({ agent_id: "a", input: 42 });
  // @ts-expect-error memory_type must be one of the memory types
  await client.asServiceRole.entities.AgentMemory.create({ agent_id: "a", memory_type: "dream", content: {} });
  // @ts-expect-error bulkCreate takes an array of memories
  await client.asServiceRole.entities.AgentMemory.bulkCreate({ agent_id: "a", memory_type: "semantic", content: {} });
  const run = await client.runs.get("run_x");
  // @ts-expect-error a run's status is one of its states, not a number
  const status: number = run.status;
  void status;
}
