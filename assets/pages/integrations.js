// Integrations: what is installed, how many tools and accounts each has, how it authenticates.

import { api, optional } from "../lib/api.js";
import { h, fill } from "../lib/dom.js";
import { badge, errorBox, loading, pageHead } from "../lib/ui.js";

export async function render(view, ctx) {
  ctx.setTitle("Integrations");
  const body = h("div", null, loading());
  fill(
    view,
    pageHead("Integrations", {
      lead: "APIs your agents can use. Each integration becomes a set of tools once it has an account.",
      actions: h("a", { class: "button primary", href: ctx.link("/integrations/add") }, "Add integration"),
    }),
    body,
  );

  let integrations, tools, connections;
  try {
    [integrations, tools, connections] = await Promise.all([
      api("/api/integrations"),
      optional("/api/tools", null),
      optional("/api/connections", null),
    ]);
  } catch (error) {
    if (ctx.alive()) fill(body, errorBox(error));
    return;
  }
  if (!ctx.alive()) return;

  const toolCounts = countBy(tools, (t) => t.integration);
  const accountCounts = countBy(connections, (c) => c.integration);
  const installed = integrations.filter((i) => i.kind !== "built-in");

  const rows = integrations.map((i) =>
    h(
      "tr",
      null,
      h(
        "td",
        null,
        h("a", { href: ctx.link(`/integrations/${encodeURIComponent(i.slug)}`) }, i.name || i.slug),
        h("div", { class: "muted mono" }, i.slug),
      ),
      h("td", null, badge(kindLabel(i.kind), "kind")),
      h("td", { class: "num" }, toolCounts ? String(toolCounts.get(i.slug) ?? 0) : "—"),
      h("td", { class: "num" }, i.kind === "built-in" ? "—" : accountCounts ? String(accountCounts.get(i.slug) ?? 0) : "—"),
      h("td", null, authSummary(i)),
      h("td", { class: "clip", title: i.description || null }, i.displayUrl ? h("span", { class: "mono" }, i.displayUrl) : i.description || ""),
    ),
  );

  fill(
    body,
    installed.length === 0
      ? h(
          "div",
          { class: "empty", "data-testid": "integrations-empty" },
          h("h2", null, "No integrations yet"),
          h("p", null, "Add an OpenAPI document by URL or paste it, and its operations become tools for your agents."),
          h("p", null, h("a", { class: "button primary", href: ctx.link("/integrations/add") }, "Add your first integration")),
        )
      : null,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        null,
        h("caption", { class: "muted" }, `${integrations.length} integration${integrations.length === 1 ? "" : "s"}`),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col" }, "Kind"),
            h("th", { scope: "col", class: "num" }, "Tools"),
            h("th", { scope: "col", class: "num" }, "Accounts"),
            h("th", { scope: "col" }, "Authentication"),
            h("th", { scope: "col" }, "Source"),
          ),
        ),
        h("tbody", null, rows),
      ),
    ),
    tools === null
      ? h("p", { class: "muted" }, "Tool counts are not available: this server does not list tools yet.")
      : null,
  );
}

function countBy(list, key) {
  if (!Array.isArray(list)) return null;
  const counts = new Map();
  for (const item of list) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

export function kindLabel(kind) {
  return (
    { openapi: "OpenAPI", graphql: "GraphQL", mcp: "MCP", google: "Google", microsoft: "Microsoft", "built-in": "Built-in" }[kind] ??
    kind
  );
}

function authSummary(integration) {
  const methods = integration.authMethods ?? [];
  if (integration.kind === "built-in") return h("span", { class: "muted" }, "Built in");
  if (methods.length === 0) return h("span", { class: "muted" }, "None declared");
  return methods.map((m, i) => [i ? ", " : null, m.label || m.id]);
}
