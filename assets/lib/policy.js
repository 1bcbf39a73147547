// Tool policies on the client: pattern validation, matching and the effective action of a tool,
// following the server's rules (executor-behaviour.md §9) so the badges agree with enforcement.
// Pure functions, no DOM: tests/js/console.mjs imports this module in Node as well.

export const ACTIONS = ["approve", "require_approval", "block"];

export const ACTION_LABELS = {
  approve: "Always run",
  require_approval: "Require approval",
  block: "Block",
};

export const OWNER_LABELS = { org: "Workspace", user: "Personal" };

const RESTRICTIVENESS = { approve: 0, require_approval: 1, block: 2 };

/** Why a pattern is invalid, or null when it is valid. */
export function patternProblem(pattern) {
  if (typeof pattern !== "string" || pattern.length === 0) return "Enter a pattern.";
  if (pattern === "*") return null;
  if (/\s/.test(pattern)) return "Patterns cannot contain spaces.";
  if (pattern.startsWith(".") || pattern.endsWith(".")) return "A pattern cannot start or end with a dot.";
  const segments = pattern.split(".");
  if (segments.some((s) => s === "")) return "A pattern cannot contain an empty segment (“..”).";
  if (segments[0] === "*") return "A pattern cannot start with “*” (use “*” alone to match everything).";
  for (const s of segments) {
    if (s !== "*" && s.includes("*")) {
      return `“${s}” mixes text and “*”: a wildcard must be a whole segment.`;
    }
  }
  return null;
}

/** A warning for valid patterns that can never match, or null. */
export function patternWarning(pattern) {
  if (typeof pattern === "string" && (pattern === "tools" || pattern.startsWith("tools."))) {
    return "Patterns name tools without the leading “tools.” — this one will never match.";
  }
  return null;
}

/** The id policies match against: the tool address without its leading `tools.`. */
export function targetId(address) {
  return address.startsWith("tools.") ? address.slice("tools.".length) : address;
}

/**
 * Whether `pattern` matches the target id. `*` alone matches everything; a middle `*` matches
 * exactly one segment; a trailing `*` matches anything deeper, including nothing; other segments
 * must be equal and the lengths must agree.
 */
export function matches(pattern, target) {
  if (patternProblem(pattern) !== null) return false;
  if (pattern === "*") return true;
  const want = pattern.split(".");
  const have = target.split(".");
  const open = want[want.length - 1] === "*";
  const fixed = open ? want.slice(0, -1) : want;
  if (open ? have.length < fixed.length : have.length !== fixed.length) return false;
  return fixed.every((segment, i) => segment === "*" || segment === have[i]);
}

/** Policies in precedence order: Personal before Workspace, then position, then id. */
export function ordered(policies) {
  const rank = (p) => (p.owner === "user" ? 0 : 1);
  return [...policies].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (a.position < b.position ? -1 : a.position > b.position ? 1 : 0) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/**
 * The effective action for a tool: each owner contributes its first matching rule, the most
 * restrictive of those wins; with no match the tool's own annotation decides.
 * Returns {action, policy (the deciding rule or null)}.
 */
export function effective(tool, policies) {
  const target = targetId(tool.address);
  const firstByOwner = new Map();
  for (const policy of ordered(policies)) {
    if (!firstByOwner.has(policy.owner) && matches(policy.pattern, target)) {
      firstByOwner.set(policy.owner, policy);
    }
  }
  let winner = null;
  for (const policy of firstByOwner.values()) {
    if (!(policy.action in RESTRICTIVENESS)) continue;
    if (winner === null || RESTRICTIVENESS[policy.action] > RESTRICTIVENESS[winner.action]) winner = policy;
  }
  if (winner) return { action: winner.action, policy: winner };
  return { action: tool.requiresApproval ? "require_approval" : "approve", policy: null };
}
