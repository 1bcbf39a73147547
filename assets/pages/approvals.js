// Approvals: tool calls that wait for a person. Lists the caller's paused executions
// (GET /api/executions?status=paused, newest first, paged) with approve / decline, which answer
// through POST /api/executions/<id>/resume and show what the run did next. A pasted approval link
// or execution id opens its own page.

import { api, seg } from "../lib/api.js";
import { h, fill } from "../lib/dom.js";
import { badge, busy, field, formatTime, loading, pageHead } from "../lib/ui.js";

const PAGE = 20;

export async function render(view, ctx) {
  ctx.setTitle("Approvals");
  const list = h("section", { "aria-labelledby": "pending-heading", "data-testid": "approvals-list" });
  const refresh = h("button", { type: "button", "data-testid": "approvals-refresh" }, "Refresh");
  refresh.addEventListener("click", () => load(list, ctx, refresh));
  fill(
    view,
    pageHead("Approvals", { lead: "Tool calls that need a person's decision before they run.", actions: refresh }),
    list,
    openForm(ctx),
  );
  await load(list, ctx, refresh);
}

async function load(list, ctx, button) {
  fill(list, h("h2", { id: "pending-heading" }, "Waiting for a decision"), loading());
  await busy(button, list, async () => {
    const page = await api(`/api/executions?status=paused&limit=${PAGE}`);
    if (!ctx.alive()) return;
    showPage(list, page, ctx, true);
  });
}

function showPage(list, page, ctx, first) {
  if (first) {
    fill(list, h("h2", { id: "pending-heading" }, "Waiting for a decision"));
    if (!page.executions.length) {
      list.append(
        h(
          "div",
          { class: "empty", "data-testid": "approvals-empty" },
          h("p", null, "Nothing is waiting for you."),
          h("p", { class: "muted" }, "When a policy requires approval, the call pauses and shows up here; agents in browser mode also hand out a link to it."),
        ),
      );
      return;
    }
  }
  const ul = h("ul", { class: "approvals" });
  for (const item of page.executions) ul.append(row(item, ctx));
  list.append(ul);
  if (page.nextCursor) {
    const more = h("button", { type: "button" }, "Show older");
    more.addEventListener("click", () =>
      busy(more, null, async () => {
        const next = await api(`/api/executions?status=paused&limit=${PAGE}&cursor=${seg(page.nextCursor)}`);
        more.remove();
        showPage(list, next, ctx, false);
      }),
    );
    list.append(more);
  }
}

function row(item, ctx) {
  const id = item.executionId;
  const status = h("div", { "aria-live": "polite" });
  const approve = h("button", { type: "button", class: "primary", "aria-label": `Approve ${item.address}` }, "Approve");
  const decline = h("button", { type: "button", class: "danger", "aria-label": `Decline ${item.address}` }, "Decline");
  const sid = item.mcpSessionId;
  const state = badge("Waiting", "require_approval");
  const send = (action, button) =>
    busy(button, status, async () => {
      const answer = await api(`/api/executions/${seg(id)}/resume`, { method: "POST", body: { action } });
      approve.disabled = decline.disabled = true;
      state.replaceWith(badge(action === "accept" ? "Approved" : "Declined", action === "accept" ? "approve" : "block"));
      fill(status, outcome(action, answer, ctx, sid));
    });
  approve.addEventListener("click", () => send("accept", approve));
  decline.addEventListener("click", () => send("decline", decline));
  const link = `/resume/${seg(id)}${sid ? `?mcp_session_id=${seg(sid)}` : ""}`;
  return h(
    "li",
    { class: "panel", "data-testid": "approval", "data-execution-id": id },
    h("p", null, state, " ", h("span", { class: "mono" }, item.address)),
    h("pre", null, item.message),
    h("p", { class: "muted" }, `Arguments: `, h("code", null, item.argsPreview), item.argsTruncated ? " (cut)" : null),
    h("p", { class: "muted" }, `Paused ${formatTime(item.createdAt)} · expires ${formatTime(item.expiresAt)} · `, h("a", { href: ctx.link(link) }, "details")),
    h("div", { class: "actions" }, approve, decline),
    status,
  );
}

/** What a decision led to: the finished run's text, or a link to the call it paused at next. */
export function outcome(action, answer, ctx, sid) {
  const said = action === "accept" ? "Approved." : action === "decline" ? "Declined." : "Cancelled.";
  if (answer.status === "paused") {
    const next = answer.structured?.executionId;
    const href = `/resume/${seg(next)}${sid ? `?mcp_session_id=${seg(sid)}` : ""}`;
    return h("p", { class: "success", role: "status" }, `${said} The run paused again at another call: `, h("a", { href: ctx.link(href), "data-testid": "approval-next" }, "review it"), ".");
  }
  return [
    h("p", { class: answer.isError ? "" : "success", role: "status" }, `${said} The run ${answer.isError ? "ended with an error" : "finished"}:`),
    h("pre", { class: answer.isError ? "error" : "", "data-testid": "approval-outcome" }, answer.text ?? ""),
  ];
}

function openForm(ctx) {
  const input = h("input", { type: "text", name: "approval", autocomplete: "off", spellcheck: "false", placeholder: "https://…/resume/exec_…?mcp_session_id=…  or  exec_…" });
  const problem = h("p", { class: "field-error", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "panel", "aria-labelledby": "open-approval-heading" },
    h("h2", { id: "open-approval-heading" }, "Open an approval link"),
    field("Approval link or execution id", input),
    problem,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Open")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const target = resumePath(input.value.trim());
    if (!target) {
      problem.textContent = "That is neither an approval link nor an execution id.";
      input.focus();
      return;
    }
    ctx.navigate(target);
  });
  return form;
}

/** "/resume/<id>[?mcp_session_id=…]" from a pasted link or a bare execution id, or null. */
export function resumePath(text) {
  if (!text) return null;
  try {
    const url = new URL(text, location.origin);
    const m = url.pathname.match(/\/resume\/([^/]+)\/?$/);
    if (m) {
      const sid = url.searchParams.get("mcp_session_id");
      return `/resume/${m[1]}${sid ? `?mcp_session_id=${encodeURIComponent(sid)}` : ""}`;
    }
  } catch {
    // not a URL: maybe a bare id
  }
  return /^[A-Za-z0-9_-]+$/.test(text) ? `/resume/${encodeURIComponent(text)}` : null;
}
