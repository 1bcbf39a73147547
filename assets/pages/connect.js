// Connect an agent: the MCP endpoint and ready-to-paste client configuration. Credentials are
// Cloudflare Access service tokens; this page shows placeholders only, never secret values.

import { h, fill } from "../lib/dom.js";
import { pageHead, snippet } from "../lib/ui.js";

export async function render(view, ctx) {
  ctx.setTitle("Connect an agent");
  const mcpUrl = `${location.origin}/mcp`;
  const httpConfig = JSON.stringify(
    {
      mcpServers: {
        executor: {
          type: "http",
          url: mcpUrl,
          headers: {
            "CF-Access-Client-Id": "<service token client id>.access",
            "CF-Access-Client-Secret": "${CF_ACCESS_CLIENT_SECRET}",
          },
        },
      },
    },
    null,
    2,
  );
  const bridgeCommand = `cargo run -p provision -- bridge --url ${mcpUrl}`;
  const bridgeConfig = JSON.stringify(
    {
      mcpServers: {
        executor: {
          command: "provision",
          args: ["bridge", "--mcp-env-file", "/path/to/.env.mcp"],
        },
      },
    },
    null,
    2,
  );

  fill(
    view,
    pageHead("Connect an agent", {
      lead: "Agents reach Executor over MCP (streamable HTTP). They find tools and run code against them through one endpoint.",
    }),
    h("h2", null, "MCP endpoint"),
    h("div", { "data-testid": "mcp-url" }, snippet(mcpUrl, "MCP URL")),
    h(
      "p",
      { class: "muted" },
      "The endpoint sits behind Cloudflare Access like this console. Agents authenticate with an Access service token sent as two headers.",
    ),
    h("h2", null, "Clients that send HTTP headers"),
    h("p", null, "Add this to the client's ", h("code", null, "mcp.json"), " and replace the placeholders:"),
    snippet(httpConfig, "mcp.json for HTTP clients"),
    h(
      "p",
      { class: "muted" },
      "The service token comes from the deployment: ",
      h("code", null, "cargo run -p provision -- token"),
      " prints the client id and where the secret is stored. Keep the secret out of files you share.",
    ),
    h("h2", null, "Clients that only speak stdio"),
    h("p", null, "Run the bridge from a checkout of this repository; it forwards stdio messages to the endpoint and adds the headers:"),
    snippet(bridgeCommand, "bridge command"),
    h(
      "p",
      { class: "muted" },
      "It takes the service token from ",
      h("code", null, "CF_ACCESS_CLIENT_ID"),
      " and ",
      h("code", null, "CF_ACCESS_CLIENT_SECRET"),
      " in its environment, or from the credentials file.",
    ),
    h(
      "p",
      null,
      "Or let the client start it (with ",
      h("code", null, "provision"),
      " on its PATH). It reads the URL and the service token from the ",
      h("code", null, ".env.mcp"),
      " file ",
      h("code", null, "provision up"),
      " wrote, so the secret stays out of the client's configuration:",
    ),
    snippet(bridgeConfig, "mcp.json for stdio clients"),
  );
}
