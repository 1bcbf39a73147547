// Run: execute a snippet of code mode (the same sandbox agents use) and show what came back.

import { api } from "../lib/api.js";
import { h, fill } from "../lib/dom.js";
import { badge, busy, field, pageHead } from "../lib/ui.js";

const EXAMPLE = "// `tools` holds every tool; `return` sends a value back.\nreturn 6 * 7";

export async function render(view, ctx) {
  ctx.setTitle("Run");
  const code = h("textarea", { name: "code", rows: "12", spellcheck: "false", value: ctx.query.get("code") ?? EXAMPLE });
  const run = h("button", { type: "submit", class: "primary" }, "Run");
  const output = h("section", { "aria-live": "polite", "aria-labelledby": "run-output-heading", "data-testid": "run-output" });
  const form = h(
    "form",
    { class: "panel" },
    field("Code", code, "JavaScript, run in the Worker's sandbox with the same tools and policies as agents. Ctrl+Enter runs it."),
    h("div", { class: "actions" }, run),
  );
  code.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(output, h("p", { class: "muted" }, "Running…"));
    const started = performance.now();
    await busy(
      run,
      output,
      async () => {
        const answer = await api("/api/executions", { method: "POST", body: { code: code.value } });
        fill(output, renderAnswer(answer, performance.now() - started, ctx));
      },
      "Running…",
    );
  });
  fill(
    view,
    pageHead("Run", { lead: "Try code mode directly: call tools, combine results, and see the logs." }),
    form,
    output,
  );
}

function renderAnswer(answer, elapsed, ctx) {
  const s = answer.structured ?? {};
  const logs = Array.isArray(s.logs) ? s.logs : [];
  const head = h("h2", { id: "run-output-heading" }, "Result ");
  const timing = h("p", { class: "muted" }, `Answered in ${Math.round(elapsed)} ms.`);
  if (answer.status === "paused") {
    const interaction = s.interaction ?? {};
    head.append(badge("Waiting for approval", "require_approval"));
    return [
      head,
      h("p", null, interaction.message ?? answer.text),
      h(
        "dl",
        { class: "facts" },
        h("dt", null, "Tool"),
        h("dd", { class: "mono" }, interaction.address ?? "—"),
        h("dt", null, "Execution id"),
        h("dd", { class: "mono" }, s.executionId ?? "—"),
      ),
      s.executionId
        ? h(
            "p",
            null,
            "The run waits until someone decides. ",
            h("a", { href: ctx.link(`/resume/${encodeURIComponent(s.executionId)}`), "data-testid": "run-resume" }, "Approve or decline the call"),
            ".",
          )
        : null,
      timing,
    ];
  }
  const failed = answer.isError || s.status === "error";
  head.append(failed ? badge("Error", "block") : badge("Completed", "approve"));
  const value = s.result;
  const shown =
    typeof value === "string" ? value : value === null || value === undefined ? "(no result)" : JSON.stringify(value, null, 2);
  return [
    head,
    failed
      ? h("pre", { class: "error", "data-testid": "run-text" }, s.error ?? answer.text)
      : h("pre", { "data-testid": "run-text" }, shown),
    h("details", null, h("summary", null, "The text an agent receives"), h("pre", null, answer.text)),
    typeof s.emitted === "number" && s.emitted > 0
      ? h("p", null, `${s.emitted} item${s.emitted === 1 ? "" : "s"} emitted to the user.`)
      : null,
    h("h3", null, `Logs (${logs.length})`),
    logs.length ? h("pre", { "data-testid": "run-logs" }, logs.join("\n")) : h("p", { class: "muted" }, "No logs."),
    timing,
  ];
}
