// Drives the Worker's /mcp endpoint with the official MCP TypeScript SDK client and prints one
// JSON object describing what happened. Used by the Rust e2e suite (tests/e2e/mcp.rs).
//
// usage: node tests/js/mcp-client.mjs <mcp url> [protocol version]
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL(process.argv[2]);
const client = new Client({ name: "executor-e2e", version: "0.1.0" });
const transport = new StreamableHTTPClientTransport(url);
await client.connect(transport);

const tools = await client.listTools();
const answer = await client.callTool({ name: "execute", arguments: { code: "return 6 * 7" } });
const failing = await client.callTool({ name: "execute", arguments: { code: "throw new Error('boom')" } });
const sessionId = transport.sessionId;
await transport.terminateSession();
await client.close();

console.log(
  JSON.stringify({
    sessionId,
    serverVersion: client.getServerVersion(),
    protocolVersion: transport.protocolVersion,
    toolNames: tools.tools.map((t) => t.name),
    answer,
    failing,
  }),
);
