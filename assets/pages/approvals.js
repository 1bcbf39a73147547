// Approvals: tool calls that wait for a person. The server offers no list of open approvals (a
// paused execution is only reachable by its id), so agents hand out a link to /resume/<id>; this
// page explains that and opens a link or id the user pastes.

import { h, fill } from "../lib/dom.js";
import { field, pageHead } from "../lib/ui.js";

export async function render(view, ctx) {
  ctx.setTitle("Approvals");
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
  fill(
    view,
    pageHead("Approvals", { lead: "Tool calls that need a person's decision before they run." }),
    h(
      "div",
      { class: "empty", "data-testid": "approvals-empty" },
      h("h2", null, "Nothing is waiting for you"),
      h(
        "p",
        null,
        "When a policy or an integration requires approval, the agent's call pauses and the agent gives you a link to this console. Open it to approve or decline; the agent then continues.",
      ),
    ),
    form,
  );
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
