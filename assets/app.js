// Executor console: the shell (auth gate, navigation, account menu) and a History-API router.
//
// Deliberately framework-free and build-free: plain ES modules and one stylesheet, served as-is by
// Workers Static Assets. The Worker stays the only thing we compile; the console has no
// node_modules, bundler or transpiler to keep patched, and what the browser runs is exactly what
// is in `assets/`. Each page is its own module under `pages/`, loaded on first visit, so the first
// page only costs the shell plus one page (tests/js/console.mjs measures it; budget 300 KiB).
// Wrangler serves index.html for unknown non-API paths (`not_found_handling =
// "single-page-application"`), so deep links like /tools/<address> land here.

import { api, ApiError } from "./lib/api.js";
import { h, fill } from "./lib/dom.js";
import { errorBox, loading } from "./lib/ui.js";

/** Path patterns → page module and the sidebar section it belongs to. */
const ROUTES = [
  { re: /^\/(?:integrations\/?)?$/, page: "integrations", section: "integrations" },
  { re: /^\/integrations\/add(?:\/([^/]+))?\/?$/, page: "integration-add", section: "integrations" },
  { re: /^\/integrations\/([^/]+)\/?$/, page: "integration", section: "integrations" },
  { re: /^\/tools\/?$/, page: "tools", section: "tools" },
  { re: /^\/tools\/([^/]+)\/?$/, page: "tool", section: "tools" },
  { re: /^\/policies\/?$/, page: "policies", section: "policies" },
  { re: /^\/run\/?$/, page: "run", section: "run" },
  { re: /^\/approvals\/?$/, page: "approvals", section: "approvals" },
  { re: /^\/resume\/([^/]+)\/?$/, page: "resume", section: "approvals" },
  { re: /^\/audit\/?$/, page: "audit", section: "audit" },
  { re: /^\/connect\/?$/, page: "connect", section: "connect" },
  { re: /^\/(?:providers|secrets)\/?$/, page: "providers", section: "providers" },
];
const TOP_LEVEL = new Set(["integrations", "tools", "policies", "run", "approvals", "resume", "audit", "connect", "providers", "secrets"]);

const main = document.getElementById("main");
const state = { me: null, prefix: "", renderId: 0, cleanup: null, firstRender: true };

/** Splits an optional `/<orgSlug>` off the path (only the signed-in organization's slug). */
function splitPrefix(pathname) {
  const slug = state.me?.organization?.slug;
  const first = pathname.split("/")[1];
  if (slug && first === slug && !TOP_LEVEL.has(first)) {
    return { prefix: `/${slug}`, path: pathname.slice(slug.length + 1) || "/" };
  }
  return { prefix: "", path: pathname };
}

/** A console path with the organization prefix the user arrived with. */
export function link(path) {
  return state.prefix + path;
}

export function navigate(path, { replace = false } = {}) {
  const url = path.startsWith(state.prefix + "/") || path === state.prefix ? path : link(path);
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

function resolve(pathname) {
  const { prefix, path } = splitPrefix(pathname);
  for (const route of ROUTES) {
    const m = path.match(route.re);
    if (m) {
      let params;
      try {
        params = m.slice(1).map((p) => (p === undefined ? undefined : decodeURIComponent(p)));
      } catch {
        return { prefix, route: null };
      }
      return { prefix, route, params };
    }
  }
  return { prefix, route: null };
}

function markNav(section) {
  for (const a of document.querySelectorAll("#sidebar a[data-section]")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function updateNavLinks() {
  for (const a of document.querySelectorAll("a[data-nav]")) {
    const base = a.getAttribute("data-path") ?? a.getAttribute("href");
    a.setAttribute("data-path", base);
    a.setAttribute("href", link(base));
  }
}

async function render() {
  const id = ++state.renderId;
  if (typeof state.cleanup === "function") state.cleanup();
  state.cleanup = null;
  const { prefix, route, params } = resolve(location.pathname);
  if (prefix !== state.prefix) {
    state.prefix = prefix;
    updateNavLinks();
  }
  closeMenus();
  markNav(route?.section);
  const view = h("div", { class: "page" }, loading());
  fill(main, view);
  const alive = () => id === state.renderId;
  const ctx = {
    params: params ?? [],
    query: new URLSearchParams(location.search),
    me: state.me,
    link,
    navigate,
    alive,
    setTitle: (title) => {
      if (alive()) document.title = title ? `${title} · Executor` : "Executor";
    },
  };
  try {
    if (!route) {
      ctx.setTitle("Not found");
      fill(
        view,
        h("h1", { tabindex: "-1" }, "Page not found"),
        h("p", null, "Nothing lives at ", h("code", null, location.pathname), "."),
        h("p", null, h("a", { href: link("/") }, "Go to Integrations")),
      );
    } else {
      const module = await import(`./pages/${route.page}.js`);
      if (!alive()) return;
      state.cleanup = (await module.render(view, ctx)) ?? null;
    }
  } catch (error) {
    if (alive()) fill(view, h("h1", { tabindex: "-1" }, "Something went wrong"), errorBox(error));
  }
  if (!alive()) return;
  if (state.firstRender) {
    state.firstRender = false;
  } else {
    const heading = view.querySelector("h1");
    (heading ?? main).focus();
  }
}

/** Same-origin links inside the console navigate without a page load. */
function onLinkClick(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
    return;
  }
  const a = event.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  if (/^\/(api|mcp|cdn-cgi)(\/|$)/.test(url.pathname)) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  event.preventDefault();
  history.pushState(null, "", url.pathname + url.search);
  render();
}

function closeMenus() {
  const button = document.getElementById("account-button");
  const menu = document.getElementById("account-menu");
  if (!menu.hidden) {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
  }
  const sidebar = document.getElementById("sidebar");
  if (sidebar.classList.contains("open")) {
    sidebar.classList.remove("open");
    document.getElementById("nav-toggle").setAttribute("aria-expanded", "false");
  }
}

function setUpMenus() {
  // The skip link focuses <main> itself (no "#main" left in the URL for the router to see).
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  const button = document.getElementById("account-button");
  const menu = document.getElementById("account-menu");
  button.addEventListener("click", () => {
    const open = menu.hidden;
    menu.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) menu.querySelector("a, button")?.focus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !menu.hidden) {
      menu.hidden = true;
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!menu.hidden && !event.target.closest("#account")) {
      menu.hidden = true;
      button.setAttribute("aria-expanded", "false");
    }
  });
  const toggle = document.getElementById("nav-toggle");
  const sidebar = document.getElementById("sidebar");
  toggle.addEventListener("click", () => {
    const open = !sidebar.classList.contains("open");
    sidebar.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", String(open));
  });
}

function showAccount(me) {
  const user = me.user ?? {};
  const display = user.name || user.email || user.id || "Account";
  document.getElementById("account-label").textContent = display;
  document.getElementById("account-initial").textContent = display.slice(0, 1).toUpperCase();
  document.getElementById("account-name").textContent = user.name || user.id || "";
  document.getElementById("account-email").textContent = user.email || "";
  document.getElementById("account-org").textContent = me.organization ? `Organization: ${me.organization.name}` : "";
  document.getElementById("account").hidden = false;
}

/** The signed-out screen: no automatic redirect, one clear way to sign in. */
function showSignedOut(reason) {
  document.getElementById("shell").classList.add("signed-out");
  document.title = "Sign in · Executor";
  fill(
    main,
    h(
      "div",
      { class: "panel" },
      h("h1", { tabindex: "-1" }, "You are not signed in"),
      h("p", null, reason),
      h("p", null, h("a", { class: "button primary", href: "/cdn-cgi/access/login" }, "Sign in with Cloudflare Access")),
    ),
  );
}

async function boot() {
  setUpMenus();
  let me;
  try {
    me = await api("/api/account/me");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showSignedOut("This console is protected by Cloudflare Access, and it did not identify you.");
    } else if (error instanceof ApiError && error.network) {
      // Access answers an expired session with a redirect to its login page, which fetch cannot follow.
      showSignedOut("Your session may have expired: the server could not be reached from this page.");
    } else {
      fill(main, h("h1", { tabindex: "-1" }, "The console could not start"), errorBox(error));
    }
    return;
  }
  state.me = me;
  showAccount(me);
  document.addEventListener("click", onLinkClick);
  window.addEventListener("popstate", render);
  updateNavLinks();
  await render();
}

boot();
