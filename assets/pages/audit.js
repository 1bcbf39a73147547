// Audit: one row per tool call agents made (who, which tool, what the policies decided, how it
// ended), newest first. Filters and the page position live in the URL (`?decision=blocked&
// cursor=…`), so a view can be shared and the browser's Back button returns to newer rows. Rows
// never carry arguments, results or secrets: the server does not keep them.

import { api } from "../lib/api.js";
import { h, fill } from "../lib/dom.js";
import { badge, errorBox, field, formatTime, loading, pageHead } from "../lib/ui.js";

const DECISIONS = {
  allowed: ["Allowed", "approve"],
  blocked: ["Blocked", "block"],
  approval_required: ["Needs approval", "require_approval"],
  approved: ["Approved", "approve"],
  declined: ["Declined", "block"],
  cancelled: ["Cancelled", "block"],
};
const TEXT_FILTERS = [
  ["principal", "Principal", "email or subject"],
  ["address", "Tool address starts with", "tools.petstore."],
  ["integration", "Integration", "petstore"],
  ["outcome", "Outcome", "ok, upstream_http_error, …"],
];
const PAGE_SIZE = 50;

export async function render(view, ctx) {
  ctx.setTitle("Audit");
  const q = ctx.query;
  const inputs = Object.fromEntries(
    TEXT_FILTERS.map(([name, , placeholder]) => [
      name,
      h("input", { type: "text", name, autocomplete: "off", spellcheck: "false", placeholder, value: q.get(name) ?? "" }),
    ]),
  );
  const decision = h(
    "select",
    { name: "decision" },
    h("option", { value: "" }, "Any decision"),
    Object.entries(DECISIONS).map(([value, [label]]) => h("option", { value }, label)),
  );
  decision.value = DECISIONS[q.get("decision")] ? q.get("decision") : "";
  const from = h("input", { type: "datetime-local", name: "from", value: toLocalInput(q.get("from")) });
  const to = h("input", { type: "datetime-local", name: "to", value: toLocalInput(q.get("to")) });

  const form = h(
    "form",
    { class: "panel", role: "search", "aria-label": "Filter the audit log" },
    h(
      "div",
      { class: "row" },
      TEXT_FILTERS.map(([name, label]) => field(label, inputs[name])),
      field("Decision", decision),
      field("From", from),
      field("Until", to),
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Apply filters"),
      h("a", { class: "button", href: ctx.link("/audit") }, "Clear"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name] of TEXT_FILTERS) {
      const value = inputs[name].value.trim();
      if (value) next.set(name, value);
    }
    if (decision.value) next.set("decision", decision.value);
    for (const [name, input] of [["from", from], ["to", to]]) {
      const ms = input.value ? new Date(input.value).getTime() : NaN;
      if (Number.isFinite(ms)) next.set(name, String(ms));
    }
    const search = next.toString();
    ctx.navigate(`/audit${search ? `?${search}` : ""}`);
  });

  const results = h("div", null, loading("Loading the audit log…"));
  fill(
    view,
    pageHead("Audit", {
      lead: "Every tool call agents made through this Executor: who, which tool, what the policies decided and how it ended. Arguments, results and credentials are never recorded.",
    }),
    form,
    results,
  );

  const params = new URLSearchParams();
  for (const name of ["principal", "address", "integration", "decision", "outcome", "from", "to", "cursor"]) {
    const value = q.get(name);
    if (value) params.set(name, value);
  }
  params.set("limit", String(PAGE_SIZE));
  let page;
  try {
    page = await api(`/api/audit?${encode(params)}`);
  } catch (error) {
    if (ctx.alive()) fill(results, errorBox(error));
    return;
  }
  if (!ctx.alive()) return;

  const paging = q.has("cursor");
  if (page.items.length === 0) {
    fill(
      results,
      h("div", { class: "empty", "data-testid": "audit-empty" }, h("p", null, paging ? "No older entries." : "No tool calls match these filters yet.")),
      paging ? h("p", null, h("a", { href: withCursor(q, null, ctx) }, "Back to the newest entries")) : null,
    );
    return;
  }
  fill(
    results,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { "aria-label": "Audit log", "data-testid": "audit-table" },
        h(
          "thead",
          null,
          h("tr", null, ["Time", "Principal", "Tool", "Decision", "Outcome", "HTTP", "Duration", "Execution"].map((c) => h("th", { scope: "col" }, c))),
        ),
        h("tbody", null, page.items.map(row)),
      ),
    ),
    h(
      "nav",
      { class: "pager", "aria-label": "Audit pages" },
      h("span", { class: "muted", role: "status" }, `${page.items.length} ${page.items.length === 1 ? "entry" : "entries"}${paging ? " (older page)" : ""}`),
      paging ? h("a", { class: "button", href: withCursor(q, null, ctx) }, "Newest") : null,
      page.nextCursor ? h("a", { class: "button", href: withCursor(q, page.nextCursor, ctx), "data-testid": "audit-older" }, "Older entries") : null,
    ),
  );
}

function row(item) {
  const [label, kind] = DECISIONS[item.decision] ?? [item.decision, ""];
  const who = item.principal.email || item.principal.subject;
  return h(
    "tr",
    null,
    h("td", null, h("time", { datetime: new Date(item.time).toISOString() }, formatTime(item.time))),
    h("td", { title: item.principal.subject }, who),
    h("td", null, h("code", null, item.address)),
    h("td", null, badge(label, kind)),
    h("td", null, item.outcome === "ok" ? "ok" : h("code", null, item.outcome)),
    h("td", null, item.httpStatus ?? "—"),
    h("td", null, `${item.durationMs} ms`),
    h("td", null, item.executionId ? h("code", { title: item.executionId }, `${item.executionId.slice(0, 13)}…`) : "—"),
  );
}

/** The current view's URL with another cursor (`null`: the newest page). */
function withCursor(query, cursor, ctx) {
  const next = new URLSearchParams(query);
  next.delete("cursor");
  if (cursor) next.set("cursor", cursor);
  const search = next.toString();
  return ctx.link(`/audit${search ? `?${search}` : ""}`);
}

/** Query text with %20 for spaces and %2B for `+` (the API does not read `+` as a space). */
function encode(params) {
  return [...params].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
}

/** Epoch milliseconds (URL form) → a `datetime-local` value in the browser's time zone. */
function toLocalInput(ms) {
  const n = Number(ms);
  if (!ms || !Number.isFinite(n)) return "";
  const d = new Date(n - new Date(n).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}
