// One integration: its tools, its accounts (connections) and its settings (name, description,
// OpenAPI document updates, removal).

import { api, optional, seg, ApiError } from "../lib/api.js";
import { h, fill } from "../lib/dom.js";
import { effective } from "../lib/policy.js";
import {
  actionBadge,
  badge,
  busy,
  confirmDialog,
  errorBox,
  field,
  formatTime,
  loading,
  ownerLabel,
  pageHead,
  tabs,
  toast,
} from "../lib/ui.js";
import { kindLabel } from "./integrations.js";

export async function render(view, ctx) {
  const slug = ctx.params[0];
  ctx.setTitle(slug);
  let integration;
  try {
    integration = await api(`/api/integrations/${seg(slug)}`);
  } catch (error) {
    if (!ctx.alive()) return;
    if (error instanceof ApiError && error.tag === "IntegrationNotFoundError") {
      fill(
        view,
        pageHead("Integration not found"),
        h("p", null, "There is no integration with the slug ", h("code", null, slug), "."),
        h("p", null, h("a", { href: ctx.link("/") }, "Back to Integrations")),
      );
    } else {
      fill(view, pageHead(slug), errorBox(error));
    }
    return;
  }
  if (!ctx.alive()) return;
  ctx.setTitle(integration.name || slug);

  const builtIn = integration.kind === "built-in";
  const head = h("div");
  const drawHead = () =>
    fill(
      head,
      pageHead(integration.name || integration.slug, {
        lead: integration.description || null,
      }),
      h(
        "p",
        null,
        badge(kindLabel(integration.kind), "kind"),
        " ",
        h("span", { class: "mono" }, integration.slug),
        integration.displayUrl ? [" · ", h("span", { class: "mono" }, integration.displayUrl)] : null,
      ),
    );
  drawHead();

  const tabItems = [
    { id: "tools", label: "Tools", render: (panel) => toolsTab(panel, ctx, integration) },
  ];
  if (!builtIn) {
    tabItems.push({ id: "accounts", label: "Accounts", render: (panel) => accountsTab(panel, ctx, integration) });
    tabItems.push({
      id: "settings",
      label: "Settings",
      render: (panel) =>
        settingsTab(panel, ctx, integration, (updated) => {
          integration = updated;
          drawHead();
          ctx.setTitle(integration.name || slug);
        }),
    });
  }
  const selected = ctx.query.get("tab") ?? (builtIn ? "tools" : "accounts");
  fill(
    view,
    h("p", null, h("a", { href: ctx.link("/") }, "← Integrations")),
    head,
    tabs(tabItems, selected, (id) => {
      const params = new URLSearchParams(location.search);
      params.set("tab", id);
      params.delete("addAccount");
      history.replaceState(null, "", `${location.pathname}?${params}`);
    }),
  );
}

// ---------------------------------------------------------------- Tools

async function toolsTab(panel, ctx, integration) {
  fill(panel, loading());
  let tools, policies;
  try {
    [tools, policies] = await Promise.all([
      optional(`/api/tools?integration=${seg(integration.slug)}`, null),
      optional("/api/policies", []),
    ]);
  } catch (error) {
    fill(panel, errorBox(error));
    return;
  }
  if (tools === null) {
    fill(panel, h("p", { class: "muted" }, "This server does not list tools yet."));
    return;
  }
  tools = tools.filter((t) => t.integration === integration.slug);
  if (tools.length === 0) {
    fill(
      panel,
      h(
        "div",
        { class: "empty" },
        h("p", null, "No tools yet. Tools are created for each account: add one in the Accounts tab."),
      ),
    );
    return;
  }
  fill(
    panel,
    h("p", { class: "muted" }, `${tools.length} tool${tools.length === 1 ? "" : "s"}. `, h("a", { href: ctx.link(`/tools?integration=${encodeURIComponent(integration.slug)}`) }, "Search them on the Tools page"), "."),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        null,
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Tool"), h("th", { scope: "col" }, "Account"), h("th", { scope: "col" }, "Policy"), h("th", { scope: "col" }, "Description"))),
        h(
          "tbody",
          null,
          tools.map((t) => {
            const decision = effective(t, policies);
            return h(
              "tr",
              null,
              h("td", null, h("a", { class: "tool-name", href: ctx.link(`/tools/${encodeURIComponent(t.address)}`) }, t.name)),
              h("td", null, `${ownerLabel(t.owner)} / ${t.connection}`),
              h("td", null, actionBadge(decision.action, decision.policy ? `Policy ${decision.policy.pattern}` : "Default for this tool")),
              h("td", { class: "clip", title: t.description }, t.description),
            );
          }),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------- Accounts

async function accountsTab(panel, ctx, integration) {
  const list = h("div", null, loading());
  const formSlot = h("div");
  const addButton = h("button", { type: "button", class: "primary", "aria-expanded": "false" }, "Add account");
  const reload = async () => {
    try {
      const connections = await api(`/api/connections?integration=${seg(integration.slug)}`);
      fill(list, connectionsTable(connections.filter((c) => c.integration === integration.slug), ctx, integration, reload));
    } catch (error) {
      fill(list, errorBox(error));
    }
  };
  const openForm = (prefill) => {
    addButton.setAttribute("aria-expanded", "true");
    fill(
      formSlot,
      addAccountForm(integration, prefill, async () => {
        closeForm();
        await reload();
      }, closeForm),
    );
    formSlot.querySelector("select, input")?.focus();
  };
  const closeForm = () => {
    addButton.setAttribute("aria-expanded", "false");
    formSlot.replaceChildren();
    addButton.focus();
  };
  addButton.addEventListener("click", () => (formSlot.childElementCount ? closeForm() : openForm({})));
  fill(
    panel,
    h("p", { class: "muted" }, "Accounts hold the credentials tools use. Values you enter are stored encrypted and are never shown again."),
    h("div", { class: "actions" }, addButton),
    formSlot,
    list,
  );
  await reload();
  if (ctx.query.get("addAccount") === "1" && ctx.alive()) {
    openForm({ owner: ctx.query.get("owner"), template: ctx.query.get("template"), label: ctx.query.get("label") });
    // Opened once: a reload should not reopen it.
    const params = new URLSearchParams(location.search);
    for (const key of ["addAccount", "owner", "template", "label"]) params.delete(key);
    history.replaceState(null, "", `${location.pathname}?${params}`);
  }
}

function connectionsTable(connections, ctx, integration, reload) {
  if (connections.length === 0) {
    return h("div", { class: "empty", "data-testid": "accounts-empty" }, h("p", null, "No accounts yet."));
  }
  const methodLabel = (template) =>
    (integration.authMethods ?? []).find((m) => m.template === template || m.id === template)?.label ?? template;
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      null,
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", { scope: "col" }, "Account"),
          h("th", { scope: "col" }, "Owner"),
          h("th", { scope: "col" }, "Authentication"),
          h("th", { scope: "col" }, "Identity"),
          h("th", { scope: "col" }, "Description"),
          h("th", { scope: "col" }, h("span", null, "Actions")),
        ),
      ),
      h(
        "tbody",
        null,
        connections.map((c) => connectionRow(c, ctx, methodLabel, reload)),
      ),
    ),
  );
}

function connectionRow(c, ctx, methodLabel, reload) {
  const path = `/api/connections/${seg(c.owner)}/${seg(c.integration)}/${seg(c.name)}`;
  const descriptionCell = h("td", null, c.description ?? h("span", { class: "muted" }, "—"));
  const status = h("div");
  const edit = h("button", { type: "button", "aria-label": `Edit description of ${c.name}` }, "Edit description");
  const refresh = h("button", { type: "button", "aria-label": `Refresh tools of ${c.name}` }, "Refresh");
  const remove = h("button", { type: "button", class: "danger", "aria-label": `Remove account ${c.name}` }, "Remove");

  edit.addEventListener("click", () => {
    const input = h("input", { type: "text", value: c.description ?? "", "aria-label": `Description of ${c.name}` });
    const save = h("button", { type: "submit", class: "primary" }, "Save");
    const cancel = h("button", { type: "button" }, "Cancel");
    const form = h("form", { class: "row" }, h("div", { class: "field" }, input), save, cancel);
    cancel.addEventListener("click", () => {
      fill(descriptionCell, c.description ?? h("span", { class: "muted" }, "—"));
      edit.focus();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await busy(save, status, async () => {
        const text = input.value.trim();
        const updated = await api(path, { method: "PATCH", body: { description: text === "" ? null : text } });
        c.description = updated.description;
        fill(descriptionCell, c.description ?? h("span", { class: "muted" }, "—"));
        toast(`Saved the description of ${c.name}.`);
        edit.focus();
      });
    });
    fill(descriptionCell, form);
    input.focus();
  });

  refresh.addEventListener("click", () =>
    busy(refresh, status, async () => {
      const tools = await api(`${path}/refresh`, { method: "POST" });
      const count = Array.isArray(tools) ? tools.length : 0;
      fill(status, h("p", { class: "success", role: "status" }, `Refreshed: ${count} tool${count === 1 ? "" : "s"}.`));
    }, "Refreshing…"),
  );

  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: `Remove the account “${c.name}”?`,
      message: "Its tools disappear from the catalog. Agents using them will get errors.",
      confirmLabel: "Remove account",
      danger: true,
    });
    if (!ok) return;
    await busy(remove, status, async () => {
      await api(path, { method: "DELETE" });
      toast(`Removed the account ${c.name}.`);
      await reload();
    });
  });

  return h(
    "tr",
    { "data-account": c.name },
    h("td", null, h("span", { class: "mono" }, c.name), c.expiresAt ? h("div", { class: "muted" }, `Expires ${formatTime(c.expiresAt)}`) : null),
    h("td", null, ownerLabel(c.owner)),
    h("td", null, methodLabel(c.template)),
    h("td", null, c.identityLabel ?? h("span", { class: "muted" }, "—")),
    descriptionCell,
    h("td", null, h("div", { class: "actions" }, edit, refresh, remove), status),
  );
}

/** The credential inputs an auth method needs: one per distinct variable of its placements. */
export function credentialInputs(method) {
  if (!method || method.kind === "none") return [];
  const byVariable = new Map();
  for (const p of method.placements ?? []) {
    if (p.literal !== undefined && p.literal !== null) continue;
    const variable = p.variable ?? "token";
    const entry = byVariable.get(variable) ?? { variable, places: [] };
    entry.places.push(p);
    byVariable.set(variable, entry);
  }
  return [...byVariable.values()];
}

function addAccountForm(integration, prefill, onDone, onCancel) {
  const methods = (integration.authMethods ?? []).length
    ? integration.authMethods
    : [{ id: "none", template: "none", kind: "none", label: "No authentication" }];
  const owner = h(
    "select",
    { name: "owner", value: prefill.owner === "user" ? "user" : "org" },
    h("option", { value: "org" }, "Workspace (shared with everyone in the organization)"),
    h("option", { value: "user" }, "Personal (only you)"),
  );
  const name = h("input", { type: "text", name: "name", value: "main", autocomplete: "off", spellcheck: "false", required: true });
  const method = h(
    "select",
    { name: "template" },
    methods.map((m) => h("option", { value: m.template ?? m.id, selected: (m.template ?? m.id) === prefill.template }, m.label || m.id)),
  );
  const identity = h("input", { type: "text", name: "identityLabel", value: prefill.label ?? "", autocomplete: "off" });
  const description = h("input", { type: "text", name: "description", autocomplete: "off" });
  const secrets = h("div");
  const submit = h("button", { type: "submit", class: "primary" }, "Save account");
  const cancel = h("button", { type: "button" }, "Cancel");
  const errors = h("div");
  let inputs = [];

  const current = () => methods.find((m) => (m.template ?? m.id) === method.value) ?? methods[0];
  const drawSecrets = () => {
    const m = current();
    inputs = [];
    if (m.kind === "oauth") {
      submit.disabled = true;
      fill(secrets, h("p", { class: "muted" }, "Signing in with OAuth is not available in this console yet. Choose another method."));
      return;
    }
    submit.disabled = false;
    const needed = credentialInputs(m);
    if (needed.length === 0) {
      fill(secrets, h("p", { class: "muted" }, "This method needs no credentials."));
      return;
    }
    fill(
      secrets,
      needed.map((n) => {
        const input = h("input", {
          type: "password",
          name: `secret-${n.variable}`,
          autocomplete: "new-password",
          spellcheck: "false",
          required: true,
        });
        inputs.push({ variable: n.variable, input });
        const where = n.places
          .map((p) => `${p.carrier === "query" ? "query parameter" : "header"} ${p.name}${p.prefix ? ` (sent as “${p.prefix}<value>”)` : ""}`)
          .join(", ");
        const label = n.places.length === 1 ? n.places[0].name : n.variable;
        return field(label, input, `Sent as the ${where}. Stored encrypted; it is never shown again.`);
      }),
    );
  };
  method.addEventListener("change", drawSecrets);
  drawSecrets();

  const form = h(
    "form",
    { class: "panel", "aria-labelledby": "add-account-heading", novalidate: true, autocomplete: "off" },
    h("h2", { id: "add-account-heading" }, "Add an account"),
    h(
      "div",
      { class: "row" },
      field("Account name", name, "Part of the tool addresses; normalised to camelCase (e.g. “main”)."),
      field("Owner", owner),
    ),
    field("Authentication method", method),
    secrets,
    h(
      "div",
      { class: "row" },
      field("Identity label (optional)", identity, "Who or what this credential acts as, e.g. a bot account's email."),
      field("Description (optional)", description),
    ),
    h("div", { class: "actions" }, submit, cancel),
    errors,
  );
  cancel.addEventListener("click", onCancel);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!name.value.trim()) {
      errors.replaceChildren(errorBox("Give the account a name."));
      name.focus();
      return;
    }
    const empty = inputs.find((i) => i.input.value === "");
    if (empty) {
      errors.replaceChildren(errorBox("Enter every credential value."));
      empty.input.focus();
      return;
    }
    const body = {
      owner: owner.value,
      name: name.value.trim(),
      integration: integration.slug,
      template: method.value,
    };
    if (identity.value.trim()) body.identityLabel = identity.value.trim();
    if (description.value.trim()) body.description = description.value.trim();
    if (inputs.length === 1 && inputs[0].variable === "token") body.value = inputs[0].input.value;
    else body.values = Object.fromEntries(inputs.map((i) => [i.variable, i.input.value]));
    await busy(submit, errors, async () => {
      const created = await api("/api/connections", { method: "POST", body });
      for (const i of inputs) i.input.value = "";
      toast(`Saved the account ${created.name}.`);
      await onDone();
    }, "Saving…");
  });
  return form;
}

// ---------------------------------------------------------------- Settings

function settingsTab(panel, ctx, integration, onUpdated) {
  const name = h("input", { type: "text", name: "name", value: integration.name ?? "" });
  const description = h("textarea", { name: "description", rows: "2", value: integration.description ?? "" });
  const save = h("button", { type: "submit", class: "primary" }, "Save details");
  const saveErrors = h("div");
  const details = h(
    "form",
    { class: "panel", "aria-labelledby": "details-heading" },
    h("h2", { id: "details-heading" }, "Details"),
    field("Display name", name),
    field("Description", description),
    h("div", { class: "actions" }, save),
    saveErrors,
  );
  details.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(save, saveErrors, async () => {
      const updated = await api(`/api/integrations/${seg(integration.slug)}`, {
        method: "PATCH",
        body: { name: name.value.trim(), description: description.value.trim() },
      });
      onUpdated(updated);
      toast("Saved.");
    }, "Saving…");
  });

  const openapiSlot = h("div");
  const remove = h("button", { type: "button", class: "danger" }, "Remove integration");
  const removeErrors = h("div");
  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: `Remove “${integration.name || integration.slug}”?`,
      message: "Its accounts and tools are removed too. Agents that use them will get errors. This cannot be undone.",
      confirmLabel: "Remove integration",
      danger: true,
    });
    if (!ok) return;
    await busy(remove, removeErrors, async () => {
      if (integration.kind === "openapi") {
        const gone = await optional(`/api/openapi/integrations/${seg(integration.slug)}`, "missing", { method: "DELETE" });
        if (gone === "missing") await api(`/api/integrations/${seg(integration.slug)}`, { method: "DELETE" });
      } else {
        await api(`/api/integrations/${seg(integration.slug)}`, { method: "DELETE" });
      }
      toast(`Removed ${integration.slug}.`);
      ctx.navigate("/");
    }, "Removing…");
  });

  fill(
    panel,
    details,
    openapiSlot,
    integration.canRemove === false
      ? null
      : h(
          "section",
          { class: "panel", "aria-labelledby": "danger-heading" },
          h("h2", { id: "danger-heading" }, "Remove"),
          h("p", null, "Removes the integration with its accounts and tools."),
          h("div", { class: "actions" }, remove),
          removeErrors,
        ),
  );
  if (integration.kind === "openapi") openapiSettings(openapiSlot, integration);
}

async function openapiSettings(slot, integration) {
  fill(slot, loading());
  let config;
  try {
    config = await optional(`/api/openapi/integrations/${seg(integration.slug)}/config`, undefined);
  } catch (error) {
    fill(slot, errorBox(error));
    return;
  }
  const names = (record) => (record && Object.keys(record).length ? Object.keys(record).join(", ") : "—");
  const facts =
    config === undefined
      ? h("p", { class: "muted" }, "This server does not show OpenAPI settings yet.")
      : config === null
        ? h("p", { class: "muted" }, "No OpenAPI settings are stored for this integration.")
        : h(
            "dl",
            { class: "facts" },
            h("dt", null, "Source URL"),
            h("dd", { class: "mono" }, config.sourceUrl ?? "— (pasted document)"),
            h("dt", null, "Base URL"),
            h("dd", { class: "mono" }, config.baseUrl ?? "— (the document's servers)"),
            h("dt", null, "Static headers"),
            h("dd", null, names(config.headers)),
            h("dt", null, "Static query parameters"),
            h("dd", null, names(config.queryParams)),
            h("dt", null, "Authentication methods"),
            h("dd", null, (integration.authMethods ?? []).map((m) => m.label || m.id).join(", ") || "—"),
          );

  const sourceUrl = config?.sourceUrl ?? null;
  const refetch = h("input", { type: "radio", name: "spec-source", value: "refetch", checked: Boolean(sourceUrl), disabled: !sourceUrl });
  const paste = h("input", { type: "radio", name: "spec-source", value: "paste", checked: !sourceUrl });
  const text = h("textarea", { name: "spec", rows: "8", spellcheck: "false" });
  const textField = field("New OpenAPI document", text);
  textField.hidden = Boolean(sourceUrl);
  const update = h("button", { type: "submit", class: "primary" }, "Update tools");
  const outcome = h("div", { "aria-live": "polite" });
  const sync = () => (textField.hidden = !paste.checked);
  refetch.addEventListener("change", sync);
  paste.addEventListener("change", sync);
  const form = h(
    "form",
    { class: "panel", "aria-labelledby": "spec-heading", novalidate: true },
    h("h2", { id: "spec-heading" }, "OpenAPI document"),
    facts,
    h("h3", null, "Update the document"),
    h("p", { class: "muted" }, "Rebuilds the tools of every account. Accounts, policies and authentication settings are kept."),
    h(
      "fieldset",
      null,
      h("legend", null, "New version"),
      h("label", { class: "choice" }, refetch, sourceUrl ? "Download again from the source URL" : "Download again (no source URL stored)"),
      h("label", { class: "choice" }, paste, "Paste a new document"),
    ),
    textField,
    h("div", { class: "actions" }, update),
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    if (paste.checked) {
      if (!text.value.trim()) {
        fill(outcome, errorBox("Paste the new document."));
        text.focus();
        return;
      }
      body.spec = { kind: "blob", value: text.value };
    }
    await busy(update, outcome, async () => {
      const r = await api(`/api/openapi/integrations/${seg(integration.slug)}/spec`, { method: "POST", body });
      fill(outcome, specDiff(r));
    }, "Updating…");
  });
  fill(slot, form);
}

function specDiff(r) {
  const list = (names) =>
    names.length ? h("ul", null, names.map((n) => h("li", { class: "tool-name" }, n))) : h("p", { class: "muted" }, "None.");
  const added = r.addedTools ?? [];
  const removed = r.removedTools ?? [];
  return h(
    "div",
    { class: "panel", "data-testid": "spec-diff" },
    h("p", { class: "success", role: "status" }, `Updated: ${r.toolCount} operation${r.toolCount === 1 ? "" : "s"}, ${added.length} added, ${removed.length} removed.`),
    h("h3", null, `Added tools (${added.length})`),
    list(added),
    h("h3", null, `Removed tools (${removed.length})`),
    list(removed),
  );
}
