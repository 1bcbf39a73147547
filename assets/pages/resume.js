// One paused execution: show what the tool call wants to do and send approve / decline / cancel.
// Without `?mcp_session_id=` it talks to /api/executions/<id> (paused executions are kept in D1,
// so any run that paused — from an agent or from the Run page — can be answered here); with it,
// to the MCP session's browser-approval routes.

import { api, seg, ApiError } from "../lib/api.js";
import { h, fill } from "../lib/dom.js";
import { badge, busy, errorBox, field, loading, pageHead, snippet } from "../lib/ui.js";
import { outcome } from "./approvals.js";

const DONE = { accept: "Approval", decline: "Decline", cancel: "Cancellation" };

export async function render(view, ctx) {
  const id = ctx.params[0];
  const sid = ctx.query.get("mcp_session_id");
  ctx.setTitle("Approval");
  fill(view, pageHead("Approval"), loading());
  const base = sid ? `/api/mcp-sessions/${seg(sid)}/executions/${seg(id)}` : `/api/executions/${seg(id)}`;
  let paused;
  try {
    paused = await api(base);
  } catch (error) {
    if (!ctx.alive()) return;
    if (error instanceof ApiError && error.status === 404) {
      fill(
        view,
        pageHead("Nothing to approve"),
        h(
          "div",
          { class: "empty", "data-testid": "resume-nothing" },
          h("p", null, "There is no paused call with the id ", h("code", null, id), " waiting for you."),
          h("p", { class: "muted" }, "It was already answered, it timed out, or the agent's session ended. Ask the agent to try again if it still needs the call."),
        ),
        h("p", null, h("a", { href: ctx.link("/approvals") }, "Back to Approvals")),
      );
    } else {
      fill(view, pageHead("Approval"), errorBox(error));
    }
    return;
  }
  if (!ctx.alive()) return;

  const s = paused.structured ?? {};
  const interaction = s.interaction ?? {};
  const properties = interaction.requestedSchema?.properties ?? {};
  const wantsInput = Object.keys(properties).length > 0;
  const content = h("textarea", { name: "content", rows: "5", spellcheck: "false", value: "{}" });
  const status = h("div", { "aria-live": "polite" });
  const buttons = ["accept", "decline", "cancel"].map((action) =>
    h("button", { type: "button", class: action === "accept" ? "primary" : action === "decline" ? "danger" : "" }, { accept: "Approve", decline: "Decline", cancel: "Cancel" }[action]),
  );
  const send = async (action, button) => {
    const body = { action };
    if (action === "accept" && wantsInput) {
      try {
        body.content = JSON.parse(content.value || "{}");
      } catch {
        fill(status, errorBox("The response is not valid JSON."));
        content.focus();
        return;
      }
    }
    await busy(button, status, async () => {
      const answer = await api(`${base}/resume`, { method: "POST", body });
      for (const b of buttons) b.disabled = true;
      // The session route answers the decision (`text` is what to tell the agent) plus the run's
      // `outcome`; the plain route answers the outcome itself.
      const run = sid ? answer.outcome : answer;
      fill(
        status,
        h("p", { class: "success", role: "status" }, `${DONE[action]} sent.`),
        run ? outcome(action, run, ctx, sid) : null,
        sid && run?.status !== "paused" ? [h("p", null, "The agent is waiting for this decision; if it stopped waiting, tell it:"), snippet(answer.text ?? "", "message for the agent")] : null,
      );
    });
  };
  buttons.forEach((b, i) => b.addEventListener("click", () => send(["accept", "decline", "cancel"][i], b)));

  fill(
    view,
    pageHead("Approve this tool call?", { lead: null }),
    h("p", null, badge("Waiting for approval", "require_approval")),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "Tool"),
      h("dd", { class: "mono" }, interaction.address ?? "—"),
      h("dt", null, "Execution"),
      h("dd", { class: "mono" }, s.executionId ?? id),
    ),
    h("h2", null, "Request"),
    h("pre", null, interaction.message ?? paused.text ?? ""),
    interaction.args !== undefined ? [h("h2", null, "Arguments"), h("pre", null, JSON.stringify(interaction.args, null, 2))] : null,
    wantsInput ? field("Response (JSON matching the requested fields)", content, Object.keys(properties).join(", ")) : null,
    h("div", { class: "actions" }, buttons),
    status,
  );
}
