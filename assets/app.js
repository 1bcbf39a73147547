// The console's first page: who am I, where is the MCP endpoint, and a one-shot code runner.
const $ = (id) => document.getElementById(id);

$("mcp-url").textContent = `${location.origin}/mcp`;

async function loadAccount() {
  const res = await fetch("/api/account/me");
  if (res.status === 401) {
    $("who").textContent = "You are not signed in (Cloudflare Access did not identify you).";
    $("who").className = "error";
    return;
  }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    $("who").textContent = body.message ?? `The API answered ${res.status}.`;
    $("who").className = "error";
    return;
  }
  const me = await res.json();
  $("who").textContent = `Signed in as ${me.user.email || me.user.id} · ${me.organization?.name ?? ""}`;
}

$("run").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("result").textContent = "Running…";
  const res = await fetch("/api/executions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code: $("code").value }),
  });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    $("result").textContent = body?.message ?? `The API answered ${res.status}.`;
    return;
  }
  $("result").textContent = body.text;
});

loadAccount();
