// One tool: what it does, its input/output types, and which policy applies to it.

import { api, optional, seg, ApiError } from "../lib/api.js";
import { h, fill } from "../lib/dom.js";
import { ACTION_LABELS, effective, targetId } from "../lib/policy.js";
import { actionBadge, errorBox, loading, ownerLabel, pageHead, snippet } from "../lib/ui.js";

export async function render(view, ctx) {
  const address = ctx.params[0];
  ctx.setTitle(address);
  fill(view, h("p", null, h("a", { href: ctx.link("/tools") }, "← Tools")), pageHead(address), loading());

  const integration = address.startsWith("tools.") ? address.split(".")[1] : address.split(".")[0];
  let schema, tools, policies;
  try {
    [schema, tools, policies] = await Promise.all([
      api(`/api/tools/schema?address=${seg(address)}`),
      optional(`/api/tools?integration=${seg(integration)}`, []),
      optional("/api/policies", []),
    ]);
  } catch (error) {
    if (!ctx.alive()) return;
    const head = [h("p", null, h("a", { href: ctx.link("/tools") }, "← Tools")), pageHead("Tool not found")];
    if (error instanceof ApiError && error.tag === "ToolNotFoundError") {
      const suggestions = error.body?.suggestions ?? [];
      fill(
        view,
        head,
        h("p", null, "No tool has the address ", h("code", null, address), "."),
        suggestions.length
          ? [h("p", null, "Did you mean:"), h("ul", null, suggestions.map((s) => h("li", null, h("a", { href: ctx.link(`/tools/${encodeURIComponent(s)}`) }, s))))]
          : null,
      );
    } else {
      fill(view, head.slice(0, 1), pageHead(address), errorBox(error));
    }
    return;
  }
  if (!ctx.alive()) return;

  const tool = tools.find((t) => t.address === address) ?? null;
  const decision = tool ? effective(tool, policies) : null;
  const title = schema.name ?? tool?.name ?? address;
  ctx.setTitle(title);

  const typeDefs = Object.entries(schema.typeScriptDefinitions ?? {});
  const policyText = !decision
    ? h("p", { class: "muted" }, "The tool is not in the catalog listing, so its policy is unknown.")
    : h(
        "p",
        { "data-testid": "effective-policy" },
        actionBadge(decision.action),
        " ",
        decision.policy
          ? [
              `${ACTION_LABELS[decision.action]} because of the ${ownerLabel(decision.policy.owner).toLowerCase()} policy `,
              h("code", null, decision.policy.pattern),
              ".",
            ]
          : tool.requiresApproval
            ? "No policy matches; the integration marks this tool as needing approval" +
              (tool.approvalDescription ? ` (${tool.approvalDescription}).` : ".")
            : "No policy matches; the tool runs without approval by default.",
      );

  fill(
    view,
    h("p", null, h("a", { href: ctx.link("/tools") }, "← Tools")),
    pageHead(title, { lead: schema.description ?? tool?.description ?? null }),
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "Address"),
      h("dd", { class: "mono" }, address),
      h("dt", null, "Integration"),
      h("dd", null, h("a", { href: ctx.link(`/integrations/${encodeURIComponent(tool?.integration ?? integration)}`) }, tool?.integration ?? integration)),
      tool ? [h("dt", null, "Account"), h("dd", null, `${ownerLabel(tool.owner)} / ${tool.connection}`)] : null,
      h("dt", null, "Policy target"),
      h("dd", { class: "mono" }, targetId(address)),
    ),
    h("h2", null, "Policy"),
    policyText,
    h("p", null, h("a", { href: ctx.link(`/policies?pattern=${encodeURIComponent(targetId(address))}`) }, "Add a policy for this tool")),
    h("h2", null, "Types"),
    h("h3", null, "Input"),
    schema.inputTypeScript ? snippet(schema.inputTypeScript, "input type") : h("p", { class: "muted" }, "No input."),
    h("h3", null, "Output"),
    schema.outputTypeScript ? snippet(schema.outputTypeScript, "output type") : h("p", { class: "muted" }, "Not described."),
    typeDefs.length
      ? [h("h3", null, "Referenced types"), snippet(typeDefs.map(([name, ts]) => `type ${name} = ${ts};`).join("\n"), "referenced types")]
      : null,
    h(
      "details",
      null,
      h("summary", null, "JSON Schemas"),
      h("h3", null, "Input schema"),
      h("pre", null, JSON.stringify(schema.inputSchema ?? null, null, 2)),
      h("h3", null, "Output schema"),
      h("pre", null, JSON.stringify(schema.outputSchema ?? null, null, 2)),
      schema.schemaDefinitions
        ? [h("h3", null, "Definitions"), h("pre", null, JSON.stringify(schema.schemaDefinitions, null, 2))]
        : null,
    ),
    address.startsWith("tools.")
      ? [
          h("h2", null, "Try it"),
          h(
            "p",
            null,
            h("a", { class: "button", href: ctx.link(`/run?code=${encodeURIComponent(callSnippet(address))}`) }, "Open in Run"),
            " ",
            h("span", { class: "muted" }, "Fill in the arguments, then run it."),
          ),
        ]
      : null,
  );
}

/** `return await tools.a.b({})`, with bracket access for segments that are not identifiers. */
export function callSnippet(address) {
  const [root, ...rest] = address.split(".");
  const access = rest.map((s) => (/^[A-Za-z_$][\w$]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`)).join("");
  return `return await ${root}${access}({});`;
}
