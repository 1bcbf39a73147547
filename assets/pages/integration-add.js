// Add an OpenAPI integration: source (URL or pasted document) → detect + preview → slug/name → add.

import { api, optional } from "../lib/api.js";
import { h, fill } from "../lib/dom.js";
import { badge, busy, errorBox, field, pageHead, slugify, toast } from "../lib/ui.js";
import { kindLabel } from "./integrations.js";

export async function render(view, ctx) {
  ctx.setTitle("Add integration");
  const pluginKey = ctx.params[0];
  if (pluginKey && pluginKey !== "openapi") {
    fill(
      view,
      pageHead("Add integration"),
      h("p", null, `Adding ${kindLabel(pluginKey)} integrations is not available in this console yet. `, h("a", { href: ctx.link("/integrations/add") }, "Add an OpenAPI integration instead"), "."),
    );
    return;
  }

  const modeUrl = h("input", { type: "radio", name: "source-kind", value: "url", checked: true });
  const modeText = h("input", { type: "radio", name: "source-kind", value: "text" });
  const urlInput = h("input", { type: "url", name: "url", placeholder: "https://api.example.com/openapi.json", autocomplete: "off", spellcheck: "false" });
  const textInput = h("textarea", { name: "spec", rows: "12", spellcheck: "false", placeholder: '{"openapi": "3.0.3", …}' });
  const urlField = field("Document URL", urlInput, "The Worker downloads it. Only public addresses are allowed unless the server permits local ones.");
  const textField = field("OpenAPI document (JSON or YAML)", textInput);
  textField.hidden = true;
  const previewButton = h("button", { type: "submit", class: "primary" }, "Preview");
  const sourceErrors = h("div");
  const notes = h("div");
  const result = h("div");

  const sourceForm = h(
    "form",
    { class: "panel", "aria-labelledby": "source-heading", novalidate: true },
    h("h2", { id: "source-heading" }, "1. Source"),
    h(
      "fieldset",
      null,
      h("legend", null, "Where is the OpenAPI document?"),
      h("label", { class: "choice" }, modeUrl, "At a URL"),
      h("label", { class: "choice" }, modeText, "I will paste it"),
    ),
    urlField,
    textField,
    h("div", { class: "actions" }, previewButton),
    sourceErrors,
    notes,
  );

  const onModeChange = () => {
    const byUrl = modeUrl.checked;
    urlField.hidden = !byUrl;
    textField.hidden = byUrl;
    result.replaceChildren();
  };
  modeUrl.addEventListener("change", onModeChange);
  modeText.addEventListener("change", onModeChange);
  urlInput.addEventListener("input", () => result.replaceChildren());
  textInput.addEventListener("input", () => result.replaceChildren());

  sourceForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.replaceChildren();
    notes.replaceChildren();
    const byUrl = modeUrl.checked;
    const source = (byUrl ? urlInput.value : textInput.value).trim();
    if (!source) {
      sourceErrors.replaceChildren(errorBox(byUrl ? "Enter the document's URL." : "Paste the document."));
      (byUrl ? urlInput : textInput).focus();
      return;
    }
    await busy(previewButton, sourceErrors, async () => {
      let detected = null;
      if (byUrl) {
        detected = await detect(source, notes);
        if (detected === false) return;
      }
      const preview = await api("/api/openapi/preview", { method: "POST", body: { spec: source } });
      if (!ctx.alive()) return;
      fill(result, previewPanel(preview), detailsForm(ctx, { byUrl, source, preview, detected }));
      result.querySelector("h2")?.focus();
    }, "Reading the document…");
  });

  fill(
    view,
    pageHead("Add an OpenAPI integration", {
      lead: "Every operation in the document becomes a tool. Tools appear once you add an account to the integration.",
    }),
    sourceForm,
    result,
  );
}

/**
 * Asks the server what kind of endpoint the URL is. Returns the OpenAPI detection (or null when
 * detection is unavailable or inconclusive), or false when the URL is clearly something else.
 */
async function detect(url, notes) {
  let found;
  try {
    found = await optional("/api/integrations/detect", null, { method: "POST", body: { url } });
  } catch (error) {
    notes.replaceChildren(h("p", { class: "muted" }, `Could not detect the kind of endpoint (${error.message}); reading it as OpenAPI.`));
    return null;
  }
  if (!Array.isArray(found)) return null;
  const openapi = found.find((d) => d.kind === "openapi");
  if (openapi) {
    notes.replaceChildren(h("p", { class: "muted" }, `Detected an OpenAPI document (${openapi.confidence} confidence).`));
    return openapi;
  }
  const other = found.find((d) => d.confidence === "high");
  if (other) {
    notes.replaceChildren(
      errorBox(`This URL looks like a ${kindLabel(other.kind)} endpoint. This console can add OpenAPI integrations only.`),
    );
    return false;
  }
  return null;
}

function previewPanel(p) {
  const schemes = p.securitySchemes ?? [];
  const servers = p.servers ?? [];
  return h(
    "section",
    { class: "panel", "aria-labelledby": "preview-heading", "data-testid": "openapi-preview" },
    h("h2", { id: "preview-heading", tabindex: "-1" }, "2. Preview"),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "Title"),
      h("dd", null, p.title ?? h("span", { class: "muted" }, "(none)")),
      h("dt", null, "Version"),
      h("dd", null, p.version ?? "—"),
      p.description ? [h("dt", null, "Description"), h("dd", null, p.description)] : null,
      h("dt", null, "Operations"),
      h("dd", { "data-testid": "operation-count" }, String(p.operationCount ?? 0)),
      h("dt", null, "Tags"),
      h("dd", null, (p.tags ?? []).length ? p.tags.join(", ") : "—"),
      h("dt", null, "Servers"),
      h(
        "dd",
        null,
        servers.length
          ? h("ul", null, servers.map((s) => h("li", null, h("span", { class: "mono" }, s.url), s.description ? ` — ${s.description}` : null)))
          : "None declared",
      ),
      h("dt", null, "Authentication"),
      h(
        "dd",
        null,
        schemes.length ? h("ul", null, schemes.map((s) => h("li", null, describeScheme(s)))) : "None declared",
      ),
    ),
  );
}

function describeScheme(s) {
  const parts = [h("strong", null, s.name), " — "];
  if (s.type === "apiKey") parts.push(`API key in the ${s.in ?? "header"} `, h("code", null, s.headerName ?? s.name));
  else if (s.type === "http") parts.push(`HTTP ${s.scheme ?? ""}`.trim(), s.bearerFormat ? ` (${s.bearerFormat})` : null);
  else if (s.type === "oauth2") {
    const flows = Object.keys(s.flows ?? {});
    parts.push("OAuth 2", flows.length ? ` (${flows.join(", ")})` : null);
  } else if (s.type === "openIdConnect") parts.push("OpenID Connect");
  else parts.push(s.type);
  return parts;
}

function detailsForm(ctx, { byUrl, source, preview, detected }) {
  const slug = h("input", {
    type: "text",
    name: "slug",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    value: detected?.slug || slugify(preview.title) || "api",
  });
  const name = h("input", { type: "text", name: "name", value: preview.title ?? "" });
  const description = h("textarea", { name: "description", rows: "2", value: preview.description ?? "" });
  const listId = "server-choices";
  const baseUrl = h("input", { type: "url", name: "baseUrl", list: listId, autocomplete: "off", placeholder: preview.servers?.[0]?.url ?? "" });
  const servers = h("datalist", { id: listId }, (preview.servers ?? []).map((s) => h("option", { value: s.url })));
  const submit = h("button", { type: "submit", class: "primary" }, "Add integration");
  const errors = h("div");
  const form = h(
    "form",
    { class: "panel", "aria-labelledby": "details-heading", novalidate: true },
    h("h2", { id: "details-heading" }, "3. Name it"),
    h(
      "div",
      { class: "row" },
      field("Slug", slug, "Part of every tool address (tools.<slug>.…). Letters, digits, “_” and “-”."),
      field("Display name", name),
    ),
    field("Description", description),
    field("Base URL (optional)", baseUrl, "Leave empty to call the servers the document declares."),
    servers,
    h("div", { class: "actions" }, submit),
    errors,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const slugValue = slug.value.trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(slugValue)) {
      errors.replaceChildren(errorBox("The slug must start with a letter or digit and use only letters, digits, “_” and “-”."));
      slug.focus();
      return;
    }
    const body = {
      spec: byUrl ? { kind: "url", url: source } : { kind: "blob", value: source },
      slug: slugValue,
    };
    if (name.value.trim()) body.name = name.value.trim();
    if (description.value.trim()) body.description = description.value.trim();
    if (baseUrl.value.trim()) body.baseUrl = baseUrl.value.trim();
    await busy(submit, errors, async () => {
      const added = await api("/api/openapi/specs", { method: "POST", body });
      toast(`Added ${added.slug} with ${added.toolCount} operation${added.toolCount === 1 ? "" : "s"}.`);
      ctx.navigate(`/integrations/${encodeURIComponent(added.slug)}?tab=accounts&addAccount=1`);
    }, "Adding…");
  });
  return [form, h("p", { class: "muted" }, badge("OpenAPI", "kind"), " Tools are created per account: add one on the next page.")];
}
