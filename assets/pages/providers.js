// Providers: where credentials are stored, and the names of the stored items (never values).

import { api, seg } from "../lib/api.js";
import { h, fill } from "../lib/dom.js";
import { errorBox, loading, pageHead } from "../lib/ui.js";

export async function render(view, ctx) {
  ctx.setTitle("Providers");
  const body = h("div", null, loading());
  fill(
    view,
    pageHead("Providers", {
      lead: "Credential stores. Secrets are added through an integration's Accounts tab; only their names are shown here.",
    }),
    body,
  );
  let providers;
  try {
    providers = await api("/api/providers");
  } catch (error) {
    if (ctx.alive()) fill(body, errorBox(error));
    return;
  }
  if (!ctx.alive()) return;
  if (providers.length === 0) {
    fill(body, h("div", { class: "empty" }, h("p", null, "No credential providers are registered.")));
    return;
  }
  fill(body, providers.map((key) => providerSection(key)));
}

function providerSection(key) {
  const list = h("div", null, loading());
  const section = h(
    "section",
    { class: "panel", "aria-labelledby": `provider-${key}`, "data-provider": key },
    h("h2", { id: `provider-${key}` }, key === "encrypted" ? "Encrypted store" : key, " ", h("code", { class: "muted" }, key)),
    key === "encrypted"
      ? h("p", { class: "muted" }, "Values are encrypted with the Worker's key before they reach the database. Writable.")
      : null,
    list,
  );
  api(`/api/providers/${seg(key)}/items`).then(
    (items) => {
      if (items.length === 0) {
        fill(list, h("p", { class: "muted" }, "No stored items."));
        return;
      }
      fill(
        list,
        h("p", null, `${items.length} item${items.length === 1 ? "" : "s"}:`),
        h("ul", null, items.map((item) => h("li", { class: "mono" }, item.name || item.id))),
      );
    },
    (error) => fill(list, errorBox(error)),
  );
  return section;
}
