// A loopback MCP server for the e2e suite (tests/e2e/mcp_sources.rs), built on the official MCP
// TypeScript SDK's server transports. One process serves both transports:
//
//   POST/GET/DELETE /mcp        streamable HTTP (stateful: one SDK transport per session)
//   GET /sse, POST /messages    the legacy HTTP+SSE transport
//   GET /stats                  how many `initialize` requests and tool calls each transport saw
//   POST /kill                  forgets every streamable-HTTP session (the next request with an
//                               old id answers 404, as a restarted server would)
//
// Tools (listed two per page, so clients must follow `nextCursor`): `read_note` (read-only),
// `Delete Note` (destructiveHint: true), `fail_loudly` (answers isError). It prints one line
// `{"port": N}` once it listens. usage: node tests/js/mcp-upstream.mjs [port]
import http from "node:http";
import { randomUUID } from "node:crypto";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

const stats = {
  initialize: { streamable: 0, sse: 0 },
  calls: { streamable: 0, sse: 0 },
  lists: { streamable: 0, sse: 0 },
};

const TOOLS = [
  {
    name: "read_note",
    title: "Read a note",
    description: "Reads the note with the given id.",
    inputSchema: {
      type: "object",
      properties: { id: { type: "string" } },
      required: ["id"],
    },
    annotations: { readOnlyHint: true },
  },
  {
    name: "Delete Note",
    title: "Delete a note",
    description: "Deletes the note with the given id.",
    inputSchema: {
      type: "object",
      properties: { id: { type: "string" } },
      required: ["id"],
    },
    annotations: { destructiveHint: true },
  },
  {
    name: "fail_loudly",
    description: "Always fails.",
    inputSchema: { type: "object", properties: {} },
  },
];
const PAGE = 2;

function makeServer(kind) {
  const server = new Server(
    { name: `notes-${kind}`, version: "1.0.0" },
    { capabilities: { tools: {} }, instructions: "Notes for tests." },
  );
  server.setRequestHandler(ListToolsRequestSchema, async (request) => {
    stats.lists[kind] += 1;
    const start = Number(request.params?.cursor ?? 0);
    const page = TOOLS.slice(start, start + PAGE);
    const next = start + PAGE < TOOLS.length ? String(start + PAGE) : undefined;
    return next ? { tools: page, nextCursor: next } : { tools: page };
  });
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    stats.calls[kind] += 1;
    const { name, arguments: args } = request.params;
    if (name === "read_note") {
      return {
        content: [{ type: "text", text: `note ${args?.id} via ${kind}` }],
        structuredContent: { id: args?.id, transport: kind },
      };
    }
    if (name === "Delete Note") {
      return { content: [{ type: "text", text: `deleted ${args?.id}` }] };
    }
    return { isError: true, content: [{ type: "text", text: "it failed, as it always does" }] };
  });
  return server;
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : undefined;
}

function countInitialize(kind, body) {
  const messages = Array.isArray(body) ? body : [body];
  for (const m of messages) if (m && m.method === "initialize") stats.initialize[kind] += 1;
}

const streamable = new Map(); // session id -> transport
const sse = new Map(); // session id -> transport

function sessionNotFound(res) {
  res.writeHead(404, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null }));
}

async function handle(req, res) {
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname === "/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(stats));
    return;
  }
  if (url.pathname === "/kill" && req.method === "POST") {
    const killed = streamable.size;
    for (const t of streamable.values()) await t.close().catch(() => {});
    streamable.clear();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ killed }));
    return;
  }
  if (url.pathname === "/mcp") {
    const body = req.method === "POST" ? await readBody(req) : undefined;
    const sid = req.headers["mcp-session-id"];
    if (sid) {
      const transport = streamable.get(sid);
      if (!transport) return sessionNotFound(res);
      if (req.method === "POST") countInitialize("streamable", body);
      await transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== "POST") {
      res.writeHead(400).end();
      return;
    }
    countInitialize("streamable", body);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => streamable.set(id, transport),
    });
    await makeServer("streamable").connect(transport);
    await transport.handleRequest(req, res, body);
    return;
  }
  if (url.pathname === "/sse" && req.method === "GET") {
    const transport = new SSEServerTransport("/messages", res);
    sse.set(transport.sessionId, transport);
    res.on("close", () => sse.delete(transport.sessionId));
    await makeServer("sse").connect(transport);
    return;
  }
  if (url.pathname === "/messages" && req.method === "POST") {
    const transport = sse.get(url.searchParams.get("sessionId") ?? "");
    if (!transport) return sessionNotFound(res);
    const body = await readBody(req);
    countInitialize("sse", body);
    await transport.handlePostMessage(req, res, body);
    return;
  }
  res.writeHead(404).end();
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end(String(e));
  });
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
