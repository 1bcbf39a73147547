// Building DOM without innerHTML: every string becomes a text node or an attribute value, so API
// data can never inject markup.

/**
 * h("button", {class: "primary", onclick: fn}, "Save") → <button class="primary">Save</button>.
 * Props: `class`, `on<event>` handlers, `value`/`checked`/`selected` (set as properties after the
 * children, so a <select>'s value can name one of its options), `true` → empty attribute,
 * `null`/`undefined`/`false` → omitted, anything else → string attribute.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  append(el, children);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2).toLowerCase(), value);
      } else if (key === "class") {
        el.className = value;
      } else if (key === "value" || key === "checked" || key === "selected") {
        el[key] = value;
      } else if (value === true) {
        el.setAttribute(key, "");
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  return el;
}

/** Appends children (nested arrays allowed; null/false skipped; other values as text). */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let counter = 0;
/** A document-unique id for label/control pairs. */
export function uid(prefix = "f") {
  counter += 1;
  return `${prefix}-${counter}`;
}
