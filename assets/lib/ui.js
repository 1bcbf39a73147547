// Shared pieces of the console's pages: headings, errors, confirmations, badges, copy buttons.

import { h, uid } from "./dom.js";
import { ACTION_LABELS, OWNER_LABELS } from "./policy.js";

/** The page heading block. The h1 takes focus after client-side navigation. */
export function pageHead(title, { lead, actions } = {}) {
  return h(
    "div",
    { class: "page-head" },
    h("div", null, h("h1", { tabindex: "-1" }, title), lead ? h("p", { class: "muted" }, lead) : null),
    actions ? h("div", { class: "actions" }, actions) : null,
  );
}

/** An alert box for an error (ApiError messages already carry the API's `_tag`/`message`). */
export function errorBox(error, prefix) {
  const message = error instanceof Error ? error.message : String(error);
  return h("div", { class: "error", role: "alert" }, prefix ? `${prefix} ` : null, message);
}

export function loading(text = "Loading…") {
  return h("p", { class: "muted", role: "status" }, text);
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}`.trim() }, text);
}

export function actionBadge(action, title) {
  return h("span", { class: `badge ${action}`, title }, ACTION_LABELS[action] ?? action);
}

export const ownerLabel = (owner) => OWNER_LABELS[owner] ?? owner;

/** A labelled control: field("Name", input) wires <label for>. */
export function field(labelText, control, hint) {
  if (!control.id) control.id = uid();
  let hintEl = null;
  if (hint) {
    hintEl = h("p", { class: "hint", id: uid("hint") }, hint);
    control.setAttribute("aria-describedby", hintEl.id);
  }
  return h("div", { class: "field" }, h("label", { for: control.id }, labelText), control, hintEl);
}

/** Shows a short message in the shell's status region. */
let toastTimer = 0;
export function toast(message) {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.textContent = ""), 4000);
}

/**
 * Runs `work` with `button` disabled and a busy label; errors are shown in `errorSlot` (an element
 * whose content is replaced; a toast when there is none). Resolves to work's result, or undefined
 * after a failure.
 */
export async function busy(button, errorSlot, work, busyLabel) {
  const label = button?.textContent;
  if (button) {
    button.disabled = true;
    if (busyLabel) button.textContent = busyLabel;
  }
  errorSlot?.replaceChildren();
  try {
    return await work();
  } catch (error) {
    if (errorSlot) errorSlot.replaceChildren(errorBox(error));
    else toast(error.message);
    return undefined;
  } finally {
    if (button) {
      button.disabled = false;
      if (busyLabel) button.textContent = label;
    }
  }
}

/** A modal confirmation. Resolves true when confirmed. Focus returns to the opener. */
export function confirmDialog({ title, message, confirmLabel = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = uid("dlg");
    const dialog = h(
      "dialog",
      { "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("p", null, message),
      h(
        "form",
        { method: "dialog", class: "actions" },
        h("button", { value: "cancel", autofocus: true }, "Cancel"),
        h("button", { value: "confirm", class: danger ? "danger primary" : "primary" }, confirmLabel),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A button that copies text to the clipboard (falls back to selecting `selectTarget`). */
export function copyButton(getText, label = "Copy", selectTarget, accessibleName) {
  const button = h("button", { type: "button", class: "copy", "aria-label": accessibleName }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(getText());
      toast("Copied to the clipboard.");
    } catch {
      if (selectTarget) {
        const range = document.createRange();
        range.selectNodeContents(selectTarget);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
      }
      toast("Copying is not allowed here; the text is selected, press Ctrl+C.");
    }
  });
  return button;
}

/** A <pre> with a copy button; `what` names it for assistive technology ("Copy <what>"). */
export function snippet(text, what) {
  const pre = h("pre", null, text);
  return h("div", { class: "snippet" }, pre, copyButton(() => text, "Copy", pre, what ? `Copy ${what}` : undefined));
}

/** ARIA tabs. `tabs` = [{id, label, render(panel)}]; `onChange(id)` when the user switches. */
export function tabs(items, selected, onChange) {
  const list = h("div", { role: "tablist" });
  const panels = [];
  const buttons = items.map((item, index) => {
    const tabId = uid("tab");
    const panelId = uid("panel");
    const button = h(
      "button",
      { type: "button", role: "tab", id: tabId, "aria-controls": panelId, "aria-selected": "false", tabindex: "-1" },
      item.label,
    );
    const panel = h("div", { role: "tabpanel", id: panelId, "aria-labelledby": tabId, tabindex: "0", hidden: true });
    panels.push(panel);
    button.addEventListener("click", () => select(index, true));
    button.addEventListener("keydown", (event) => {
      const delta = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (event.key === "Home" || event.key === "End" || delta) {
        event.preventDefault();
        const next =
          event.key === "Home" ? 0 : event.key === "End" ? items.length - 1 : (index + delta + items.length) % items.length;
        select(next, true);
        buttons[next].focus();
      }
    });
    list.append(button);
    return button;
  });
  const rendered = new Set();
  function select(index, byUser) {
    buttons.forEach((b, i) => {
      b.setAttribute("aria-selected", String(i === index));
      b.tabIndex = i === index ? 0 : -1;
      panels[i].hidden = i !== index;
    });
    if (!rendered.has(index)) {
      rendered.add(index);
      items[index].render(panels[index]);
    }
    if (byUser && onChange) onChange(items[index].id);
  }
  const start = Math.max(0, items.findIndex((t) => t.id === selected));
  const root = h("div", null, list, panels);
  select(start, false);
  return root;
}

export function formatTime(ms) {
  if (typeof ms !== "number") return "—";
  return new Date(ms).toLocaleString();
}

/** Lower-case, non-alphanumeric runs → "_", trimmed: a slug suggestion from a title. */
export function slugify(text) {
  return (text || "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 64);
}
