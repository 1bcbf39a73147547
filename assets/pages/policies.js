// Policies: ordered rules that let tools run, ask for approval, or block them.

import { api, optional, seg } from "../lib/api.js";
import { h, fill } from "../lib/dom.js";
import { ACTIONS, ACTION_LABELS, matches, ordered, patternProblem, patternWarning, targetId } from "../lib/policy.js";
import { busy, confirmDialog, errorBox, field, formatTime, loading, ownerLabel, pageHead, toast } from "../lib/ui.js";

const PREVIEW_LIMIT = 25;

export async function render(view, ctx) {
  ctx.setTitle("Policies");
  const listSlot = h("div", null, loading());
  const formSlot = h("div");
  fill(
    view,
    pageHead("Policies", {
      lead: "Rules matched against tool addresses. Personal rules are checked before workspace rules; within each, the first matching rule counts, and the stricter of the two wins. Tools no rule matches follow their integration's default.",
    }),
    formSlot,
    h("h2", null, "Active policies"),
    listSlot,
  );

  let policies, tools;
  try {
    [policies, tools] = await Promise.all([optional("/api/policies", null), optional("/api/tools", [])]);
  } catch (error) {
    if (ctx.alive()) fill(listSlot, errorBox(error));
    return;
  }
  if (!ctx.alive()) return;
  if (policies === null) {
    fill(listSlot, h("p", { class: "muted" }, "This server does not manage policies yet."));
    return;
  }

  const reload = async () => {
    try {
      policies = await api("/api/policies");
      drawList();
    } catch (error) {
      fill(listSlot, errorBox(error));
    }
  };

  const drawList = () => {
    if (policies.length === 0) {
      fill(listSlot, h("div", { class: "empty", "data-testid": "policies-empty" }, h("p", null, "No policies. Every tool follows its default: reads run, writes ask for approval when the integration says so.")));
      return;
    }
    const rows = ordered(policies).map((p, index) => policyRow(p, index, tools, reload));
    fill(
      listSlot,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { "aria-label": "Active policies" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              h("th", { scope: "col", class: "num" }, "#"),
              h("th", { scope: "col" }, "Pattern"),
              h("th", { scope: "col" }, "Applies to"),
              h("th", { scope: "col" }, "Action"),
              h("th", { scope: "col", class: "num" }, "Matching tools"),
              h("th", { scope: "col" }, "Updated"),
              h("th", { scope: "col" }, "Actions"),
            ),
          ),
          h("tbody", null, rows),
        ),
      ),
    );
  };

  fill(formSlot, createForm(ctx, tools, reload));
  drawList();
}

function policyRow(policy, index, tools, reload) {
  const count = tools.filter((t) => matches(policy.pattern, targetId(t.address))).length;
  const action = h(
    "select",
    { "aria-label": `Action for ${policy.pattern}`, value: policy.action },
    ACTIONS.map((a) => h("option", { value: a }, ACTION_LABELS[a])),
  );
  const status = h("div");
  const remove = h("button", { type: "button", class: "danger", "aria-label": `Delete policy ${policy.pattern}` }, "Delete");
  action.addEventListener("change", () =>
    busy(action, status, async () => {
      const previous = policy.action;
      try {
        const updated = await api(`/api/policies/${seg(policy.id)}`, {
          method: "PATCH",
          body: { owner: policy.owner, action: action.value },
        });
        Object.assign(policy, updated);
        toast(`${policy.pattern}: ${ACTION_LABELS[policy.action]}.`);
      } catch (error) {
        action.value = previous;
        throw error;
      }
    }),
  );
  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: "Delete this policy?",
      message: `Tools matching ${policy.pattern} go back to the next matching rule or their default.`,
      confirmLabel: "Delete policy",
      danger: true,
    });
    if (!ok) return;
    await busy(remove, status, async () => {
      await api(`/api/policies/${seg(policy.id)}`, { method: "DELETE", body: { owner: policy.owner } });
      toast(`Deleted the policy ${policy.pattern}.`);
      await reload();
    });
  });
  const warning = patternWarning(policy.pattern);
  return h(
    "tr",
    { "data-policy": policy.pattern },
    h("td", { class: "num" }, String(index + 1)),
    h("td", null, h("code", null, policy.pattern), warning ? h("div", { class: "field-error" }, warning) : null),
    h("td", null, ownerLabel(policy.owner)),
    h("td", null, action),
    h("td", { class: "num" }, String(count)),
    h("td", null, formatTime(policy.updatedAt)),
    h("td", null, remove, status),
  );
}

function createForm(ctx, tools, reload) {
  const pattern = h("input", {
    type: "text",
    name: "pattern",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "petstore.*  or  github.*.*.issues.create  or  *",
    value: ctx.query.get("pattern") ?? "",
  });
  const action = h(
    "select",
    { name: "action", value: "require_approval" },
    ACTIONS.map((a) => h("option", { value: a }, ACTION_LABELS[a])),
  );
  const owner = h(
    "select",
    { name: "owner", value: "org" },
    h("option", { value: "org" }, "Workspace (everyone)"),
    h("option", { value: "user" }, "Personal (only me)"),
  );
  const problem = h("p", { class: "field-error", "aria-live": "polite" });
  const preview = h("div", { "aria-live": "polite", "data-testid": "pattern-preview" });
  const submit = h("button", { type: "submit", class: "primary" }, "Add policy");
  const errors = h("div");

  const drawPreview = () => {
    const text = pattern.value.trim();
    if (!text) {
      problem.textContent = "";
      fill(preview, h("p", { class: "muted" }, "Type a pattern to see which tools it matches."));
      return;
    }
    const issue = patternProblem(text);
    problem.textContent = issue ?? patternWarning(text) ?? "";
    if (issue) {
      preview.replaceChildren();
      return;
    }
    const hits = tools.filter((t) => matches(text, targetId(t.address)));
    fill(
      preview,
      h("p", null, hits.length === 0 ? "Matches no tools right now." : `Matches ${hits.length} tool${hits.length === 1 ? "" : "s"}:`),
      hits.length
        ? h(
            "ul",
            null,
            hits.slice(0, PREVIEW_LIMIT).map((t) => h("li", { class: "tool-name" }, targetId(t.address))),
            hits.length > PREVIEW_LIMIT ? h("li", { class: "muted" }, `…and ${hits.length - PREVIEW_LIMIT} more`) : null,
          )
        : null,
    );
  };
  pattern.addEventListener("input", drawPreview);
  const patternField = field(
    "Pattern",
    pattern,
    "Dot-separated tool path without “tools.”: integration.owner.account.tool. “*” alone matches everything; a “*” segment matches one segment, or everything below when it is last.",
  );
  patternField.append(problem);

  const form = h(
    "form",
    { class: "panel", "aria-labelledby": "new-policy-heading", novalidate: true },
    h("h2", { id: "new-policy-heading" }, "New policy"),
    patternField,
    h("div", { class: "row" }, field("Action", action), field("Applies to", owner)),
    h("h3", null, "Preview"),
    preview,
    h("div", { class: "actions" }, submit),
    errors,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = pattern.value.trim();
    const issue = patternProblem(text);
    if (issue) {
      errors.replaceChildren(errorBox(issue));
      pattern.focus();
      return;
    }
    await busy(submit, errors, async () => {
      const created = await api("/api/policies", {
        method: "POST",
        body: { owner: owner.value, pattern: text, action: action.value },
      });
      toast(`Added ${created.pattern}: ${ACTION_LABELS[created.action]}.`);
      pattern.value = "";
      drawPreview();
      await reload();
    }, "Adding…");
  });
  drawPreview();
  return form;
}
