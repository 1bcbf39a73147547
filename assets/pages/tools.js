// Tools: the whole catalog, searched as you type. The list is fetched once and filtered in memory
// (each tool's search text is prepared up front); only one page of rows is in the DOM at a time,
// so catalogs with thousands of tools stay responsive.

import { optional } from "../lib/api.js";
import { h, fill } from "../lib/dom.js";
import { effective } from "../lib/policy.js";
import { actionBadge, errorBox, field, loading, ownerLabel, pageHead } from "../lib/ui.js";

const PAGE_SIZE = 50;

export async function render(view, ctx) {
  ctx.setTitle("Tools");
  const body = h("div", null, loading("Loading the catalog…"));
  fill(
    view,
    pageHead("Tools", {
      lead: "Everything your agents can call. Search by name, description or address.",
      actions: h("a", { class: "button", href: ctx.link("/policies") }, "Manage policies"),
    }),
    body,
  );

  let tools, policies;
  try {
    [tools, policies] = await Promise.all([optional("/api/tools", null), optional("/api/policies", [])]);
  } catch (error) {
    if (ctx.alive()) fill(body, errorBox(error));
    return;
  }
  if (!ctx.alive()) return;
  if (tools === null) {
    fill(body, h("p", { class: "muted" }, "This server does not list tools yet."));
    return;
  }

  const entries = tools.map((tool) => ({
    tool,
    text: `${tool.name} ${tool.address} ${tool.description ?? ""}`.toLowerCase(),
    name: tool.name.toLowerCase(),
    account: `${tool.owner}/${tool.connection}`,
  }));

  const query = h("input", { type: "search", name: "q", autocomplete: "off", spellcheck: "false", value: ctx.query.get("q") ?? "", placeholder: "e.g. getPet, invoice, dns" });
  const integrationSelect = h("select", { name: "integration" });
  const accountSelect = h("select", { name: "account" });
  const summary = h("p", { role: "status", "aria-live": "polite", "data-testid": "tool-count" });
  const tbody = h("tbody");
  const prev = h("button", { type: "button" }, "Previous page");
  const next = h("button", { type: "button" }, "Next page");
  const pageLabel = h("span", { class: "muted" });

  const integrations = [...new Set(tools.map((t) => t.integration))].sort();
  fill(
    integrationSelect,
    h("option", { value: "" }, "All integrations"),
    integrations.map((i) => h("option", { value: i }, i)),
  );
  const wantedIntegration = ctx.query.get("integration") ?? "";
  integrationSelect.value = integrations.includes(wantedIntegration) ? wantedIntegration : "";

  const fillAccounts = () => {
    const keep = accountSelect.value || ctx.query.get("account") || "";
    const accounts = new Map();
    for (const e of entries) {
      if (integrationSelect.value && e.tool.integration !== integrationSelect.value) continue;
      accounts.set(e.account, `${ownerLabel(e.tool.owner)} / ${e.tool.connection}`);
    }
    const keys = [...accounts.keys()].sort();
    fill(accountSelect, h("option", { value: "" }, "All accounts"), keys.map((k) => h("option", { value: k }, accounts.get(k))));
    accountSelect.value = keys.includes(keep) ? keep : "";
  };
  fillAccounts();

  let page = Math.max(0, Number.parseInt(ctx.query.get("page") ?? "1", 10) - 1 || 0);
  let matches = [];

  const search = () => {
    const tokens = query.value.toLowerCase().split(/\s+/).filter(Boolean);
    const integration = integrationSelect.value;
    const account = accountSelect.value;
    const phrase = tokens.join(" ");
    const found = [];
    for (const e of entries) {
      if (integration && e.tool.integration !== integration) continue;
      if (account && e.account !== account) continue;
      if (tokens.every((t) => e.text.includes(t))) found.push(e);
    }
    if (phrase) {
      // Name hits first (exact, then prefix, then contains); the catalog order otherwise.
      const rank = (e) => (e.name === phrase || e.name.endsWith(`.${phrase}`) ? 0 : e.name.includes(phrase) ? 1 : 2);
      found.sort((a, b) => rank(a) - rank(b));
    }
    matches = found;
  };

  const draw = () => {
    const pages = Math.max(1, Math.ceil(matches.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    const start = page * PAGE_SIZE;
    const shown = matches.slice(start, start + PAGE_SIZE);
    tbody.replaceChildren(
      ...shown.map(({ tool }) => {
        const decision = effective(tool, policies);
        return h(
          "tr",
          null,
          h("td", null, h("a", { class: "tool-name", href: ctx.link(`/tools/${encodeURIComponent(tool.address)}`) }, tool.name)),
          h("td", null, tool.integration),
          h("td", null, `${ownerLabel(tool.owner)} / ${tool.connection}`),
          h("td", null, actionBadge(decision.action, decision.policy ? `Policy ${decision.policy.pattern}` : "Default for this tool")),
          h("td", { class: "clip", title: tool.description ?? "" }, tool.description ?? ""),
        );
      }),
    );
    summary.textContent =
      matches.length === 0
        ? `No tools match (${tools.length} in the catalog).`
        : `${matches.length} of ${tools.length} tools` + (pages > 1 ? ` — showing ${start + 1}–${start + shown.length}` : "");
    pageLabel.textContent = `Page ${page + 1} of ${pages}`;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    const params = new URLSearchParams();
    if (query.value) params.set("q", query.value);
    if (integrationSelect.value) params.set("integration", integrationSelect.value);
    if (accountSelect.value) params.set("account", accountSelect.value);
    if (page > 0) params.set("page", String(page + 1));
    const search = params.toString();
    history.replaceState(null, "", location.pathname + (search ? `?${search}` : ""));
  };

  let scheduled = 0;
  const update = (resetPage) => {
    if (resetPage) page = 0;
    cancelAnimationFrame(scheduled);
    scheduled = requestAnimationFrame(() => {
      search();
      draw();
    });
  };
  query.addEventListener("input", () => update(true));
  integrationSelect.addEventListener("change", () => {
    fillAccounts();
    update(true);
  });
  accountSelect.addEventListener("change", () => update(true));
  prev.addEventListener("click", () => {
    page -= 1;
    draw();
  });
  next.addEventListener("click", () => {
    page += 1;
    draw();
  });

  fill(
    body,
    h(
      "form",
      { role: "search", class: "filters", onsubmit: (e) => e.preventDefault() },
      field("Search tools", query),
      field("Integration", integrationSelect),
      field("Account", accountSelect),
    ),
    summary,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { "aria-label": "Tools" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", { scope: "col" }, "Tool"),
            h("th", { scope: "col" }, "Integration"),
            h("th", { scope: "col" }, "Account"),
            h("th", { scope: "col" }, "Policy"),
            h("th", { scope: "col" }, "Description"),
          ),
        ),
        tbody,
      ),
    ),
    h("div", { class: "pager" }, prev, pageLabel, next),
  );
  search();
  draw();
  return () => cancelAnimationFrame(scheduled);
}
