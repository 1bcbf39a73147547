// Drives native elicitation (`?elicitation_mode=native`) with the official MCP TypeScript SDK
// client and prints one JSON object describing what happened. Used by tests/e2e/native.rs.
//
// usage: node tests/js/mcp-native.mjs <base url>
//
// A built-in tool that asks for approval (`executor.coreTools.policies.create`) pauses each run:
// a client with the elicitation capability accepts once and declines once; a client without it
// gets the model-mode pause. The same gated call in model mode (execute, then resume) gives the
// latency to compare with.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const base = process.argv[2];
const code = (pattern) =>
  `return await tools.executor.coreTools.policies.create({ owner: 'user', pattern: '${pattern}', action: 'block' });`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

async function connect(mode, capabilities) {
  const client = new Client({ name: "executor-native-e2e", version: "0.1.0" }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp?elicitation_mode=${mode}`));
  await client.connect(transport);
  // The SDK opens its GET stream once `notifications/initialized` is accepted; let it connect.
  await sleep(500);
  return { client, transport };
}

async function close({ client, transport }) {
  await transport.terminateSession();
  await client.close();
}

// Native mode, with the capability: answer `action` to every question.
async function native(action, pattern) {
  const session = await connect("native", { elicitation: {} });
  const asked = [];
  let askedAt = 0;
  let answeredAt = 0;
  session.client.setRequestHandler(ElicitRequestSchema, async (request) => {
    askedAt = now();
    asked.push(request.params);
    answeredAt = now();
    return action === "accept" ? { action, content: {} } : { action };
  });
  const tools = await session.client.listTools();
  const start = now();
  const result = await session.client.callTool({ name: "execute", arguments: { code: code(pattern) } });
  const end = now();
  await close(session);
  return {
    toolNames: tools.tools.map((t) => t.name),
    asked,
    result,
    totalMs: end - start,
    toAskMs: askedAt - start,
    afterAnswerMs: end - answeredAt,
  };
}

async function noCapability() {
  const session = await connect("native", {});
  const result = await session.client.callTool({ name: "execute", arguments: { code: code("nocap.*") } });
  await close(session);
  return { result };
}

// Model mode: the pause comes back, the agent resumes with a second call.
async function model(pattern) {
  const session = await connect("model", {});
  const start = now();
  const paused = await session.client.callTool({ name: "execute", arguments: { code: code(pattern) } });
  const pausedAt = now();
  const executionId = paused.structuredContent.executionId;
  const done = await session.client.callTool({ name: "resume", arguments: { executionId, action: "accept" } });
  const end = now();
  await close(session);
  return { result: done, executeMs: pausedAt - start, resumeMs: end - pausedAt, totalMs: end - start };
}

// Plain runs (no gate) for the baseline of one call.
async function plain() {
  const session = await connect("native", { elicitation: {} });
  const times = [];
  for (let i = 0; i < 5; i++) {
    const start = now();
    await session.client.callTool({ name: "execute", arguments: { code: "return 6 * 7" } });
    times.push(now() - start);
  }
  await close(session);
  return { times };
}

const report = {
  accept: await native("accept", "accepted.*"),
  decline: await native("decline", "declined.*"),
  noCapability: await noCapability(),
  model: await model("model.*"),
  accept2: await native("accept", "accepted2.*"),
  model2: await model("model2.*"),
  plain: await plain(),
};
console.log(JSON.stringify(report));
