// Countersign moderation page: ops see where signatures came from and take a batch
// out of the count (or put it back) through serve's /ops API, with the ops token in
// an Authorization header. Data goes on the page with textContent only.
"use strict";
const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat();
let token = sessionStorage.getItem("countersign-ops-token") || "";

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

async function ops(path, body) {
  const response = await fetch(`/ops${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

function petition() {
  return $("petition").value;
}

function renderSources(found) {
  const target = $("sources");
  target.replaceChildren();
  for (const [kind, rows] of Object.entries(found)) {
    const table = el("table");
    const head = el("tr");
    for (const title of [kind.replace("_", " "), "last hour", "day before"]) head.append(el("th", title));
    table.append(head);
    for (const row of rows) {
      const tr = el("tr");
      tr.append(el("td", row.source), el("td", fmt.format(row.recent), "num"), el("td", fmt.format(row.before), "num"));
      table.append(tr);
    }
    target.append(table);
  }
}

function renderHistory(rows) {
  const body = $("history");
  body.replaceChildren();
  for (const row of rows) {
    const tr = el("tr");
    tr.append(
      el("td", new Date(row.at).toLocaleString()), el("td", row.action),
      el("td", fmt.format(row.signatures), "num"), el("td", row.batch_id),
      el("td", row.actor), el("td", row.reason),
    );
    const cell = el("td");
    if (row.action === "invalidate") {
      const undo = el("button", "Reinstate");
      undo.type = "button";
      undo.dataset.batch = row.batch_id;
      undo.addEventListener("click", () => reinstate(row.batch_id));
      cell.append(undo);
    }
    tr.append(cell);
    body.append(tr);
  }
}

async function refresh() {
  if (!token || !petition()) return;
  try {
    renderSources(await ops(`/petitions/${encodeURIComponent(petition())}/sources`));
    renderHistory(await ops(`/petitions/${encodeURIComponent(petition())}/moderations`));
    $("status").textContent = `ops · ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    $("status").textContent = `not allowed: ${error.message}`;
  }
}

function selection() {
  return { [$("kind").value]: $("selector").value.trim() };
}

async function preview() {
  try {
    const targets = await ops(`/petitions/${encodeURIComponent(petition())}/targets`, selection());
    $("outcome").textContent = `${fmt.format(targets.length)} signatures would be taken out of the count`;
  } catch (error) {
    $("outcome").textContent = error.message;
  }
}

async function invalidate(event) {
  event.preventDefault();
  const body = { ...selection(), reason: $("reason").value, actor: $("actor").value };
  try {
    const done = await ops(`/petitions/${encodeURIComponent(petition())}/invalidations`, body);
    $("outcome").textContent = done.signatures
      ? `${fmt.format(done.signatures)} signatures invalidated (batch ${done.batch_id})`
      : "no signature of that selection counts now: nothing to do";
    refresh();
  } catch (error) {
    $("outcome").textContent = error.message;
  }
}

async function reinstate(batch) {
  const reason = $("reason").value.trim();
  const actor = $("actor").value.trim();
  if (!reason || !actor) {
    $("outcome").textContent = "say who you are and why (the trail keeps both), then reinstate";
    return;
  }
  try {
    const done = await ops(`/moderations/${encodeURIComponent(batch)}/reinstate`, { reason, actor });
    $("outcome").textContent = `${fmt.format(done.signatures)} signatures reinstated (batch ${batch})`;
    refresh();
  } catch (error) {
    $("outcome").textContent = error.message;
  }
}

async function start() {
  const petitions = await (await fetch("/api/petitions")).json();
  for (const p of petitions) $("petition").append(new Option(p.title, p.petition_id));
  const wanted = new URLSearchParams(location.search).get("petition");
  if (wanted) $("petition").value = wanted;
  $("petition").addEventListener("change", refresh);
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token").value;
    sessionStorage.setItem("countersign-ops-token", token);
    refresh();
  });
  $("preview").addEventListener("click", preview);
  $("invalidate").addEventListener("submit", invalidate);
  refresh();
  setInterval(refresh, 10000);
}

start();
