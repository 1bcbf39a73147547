// Drives the Worker's /mcp endpoint with the official MCP TypeScript client v2, pinned to protocol
// 2026-07-28 (no initialize, no session): lists tools, runs `execute`, and answers an approval
// through the multi-round-trip `input_required` flow with an elicitation handler. Prints one JSON
// object describing what happened. Used by tests/e2e/mcp_2026.rs.
//
// usage: node tests/js/mcp-client-2026.mjs <mcp url> <gated code> <accept|decline>
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const url = new URL(process.argv[2]);
const gatedCode = process.argv[3];
const decision = process.argv[4] ?? "accept";

// Every exchange, to show that no session id ever travels.
const exchanges = [];
const recordingFetch = async (input, init) => {
  const response = await fetch(input, init);
  const sent = new Headers(init?.headers);
  let method;
  try {
    method = JSON.parse(init?.body ?? "null")?.method;
  } catch {
    method = undefined;
  }
  exchanges.push({
    method,
    status: response.status,
    sentSession: sent.get("mcp-session-id"),
    sentVersion: sent.get("mcp-protocol-version"),
    sentMcpMethod: sent.get("mcp-method"),
    receivedSession: response.headers.get("mcp-session-id"),
  });
  return response;
};

const client = new Client(
  { name: "executor-e2e-2026", version: "0.1.0" },
  {
    capabilities: { elicitation: { form: {} } },
    versionNegotiation: { mode: { pin: "2026-07-28" } },
  },
);
const asked = [];
client.setRequestHandler("elicitation/create", async (request) => {
  asked.push(request.params);
  return { action: decision, content: {} };
});
const transport = new StreamableHTTPClientTransport(url, { fetch: recordingFetch });
await client.connect(transport);

const tools = await client.listTools();
const answer = await client.callTool({ name: "execute", arguments: { code: "return 6 * 7" } });
const gated = await client.callTool({ name: "execute", arguments: { code: gatedCode } });
// Read before close(), which forgets the negotiated connection.
const serverVersion = client.getServerVersion();
const protocolVersion = client.getNegotiatedProtocolVersion();
await client.close();

console.log(
  JSON.stringify({
    serverVersion,
    protocolVersion,
    toolNames: tools.tools.map((t) => t.name),
    answer,
    gated,
    asked,
    exchanges,
  }),
);
