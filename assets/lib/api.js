// The console's only way to talk to the Worker: same-origin JSON over /api. Every failure becomes
// an ApiError whose message is built from what the API said (`_tag`, `message`, the error's own
// fields), so pages can show it instead of swallowing it.

export class ApiError extends Error {
  constructor({ status, body, text, method, path, network = false }) {
    super(describe({ status, body, text, method, path, network }));
    this.name = "ApiError";
    this.status = status;
    this.body = body;
    this.tag = body && typeof body === "object" && !Array.isArray(body) ? body._tag ?? null : null;
    this.method = method;
    this.path = path;
    this.network = network;
  }

  /** The route does not exist on this server (404 with an empty body): a feature not deployed yet. */
  get missing() {
    return this.status === 404 && this.body === null;
  }
}

function describe({ status, body, text, method, path, network }) {
  if (network) {
    return "The server could not be reached. Check your connection, or sign in again if your session expired.";
  }
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const tag = typeof body._tag === "string" ? body._tag : null;
    if (typeof body.message === "string" && body.message) {
      return tag ? `${tag}: ${body.message}` : body.message;
    }
    if (typeof body.error === "string" && body.error) return body.error;
    if (tag === "InternalError") {
      return `InternalError: the server failed on this request${body.traceId ? ` (trace id ${body.traceId})` : ""}.`;
    }
    if (tag) {
      const fields = Object.entries(body)
        .filter(([k, v]) => k !== "_tag" && v !== null && typeof v !== "object")
        .map(([k, v]) => `${k}: ${v}`);
      return fields.length ? `${tag} (${fields.join(", ")})` : tag;
    }
  }
  if (status === 401) return "You are not signed in (HTTP 401).";
  if (status === 404 && body === null) {
    return `This server does not offer ${method} ${path.split("?")[0]} (HTTP 404).`;
  }
  if (status === 400 && !text) return "The server rejected the request as malformed (HTTP 400).";
  const snippet = (text || "").trim().slice(0, 200);
  return snippet ? `HTTP ${status}: ${snippet}` : `The server answered HTTP ${status}.`;
}

/**
 * Calls the API. `body` (if given) is sent as JSON. Resolves to the parsed JSON (null for an empty
 * body, e.g. 204); rejects with ApiError.
 */
export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json" }, signal };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError({ status: 0, body: null, text: "", method, path, network: true });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) throw new ApiError({ status: res.status, body: data ?? null, text, method, path });
  if (data === undefined) {
    throw new ApiError({ status: res.status, body: null, text, method, path: `${path} (not JSON)` });
  }
  return data;
}

/** Like api(), but a missing route resolves to `fallback` instead of failing. */
export async function optional(path, fallback, options) {
  try {
    return await api(path, options);
  } catch (error) {
    if (error instanceof ApiError && error.missing) return fallback;
    throw error;
  }
}

/** Encodes one path segment. */
export const seg = (value) => encodeURIComponent(value);
