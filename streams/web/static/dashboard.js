// Countersign dashboard: plain JavaScript, no CDN, no framework. Every string that
// comes from data is put on the page with textContent, never innerHTML.
"use strict";
const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat();
let petitions = [];
let source = null;

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function renderCounts(counts) {
  $("total").textContent = fmt.format(counts.total);
  $("pending").textContent = counts.pending
    ? `and ${fmt.format(counts.pending)} waiting for their signers to confirm by email`
    : "";
  const petition = petitions.find((p) => p.petition_id === counts.petition_id);
  const next = petition && petition.thresholds.find((t) => t > counts.total);
  $("threshold").textContent = next ? `next milestone: ${fmt.format(next)}` : "";
  const regions = $("regions");
  regions.replaceChildren();
  const max = Math.max(1, ...Object.values(counts.by_region));
  for (const [region, n] of Object.entries(counts.by_region)) {
    const row = el("div", undefined, "bar");
    const fill = el("div", undefined, "fill");
    fill.style.width = `${(100 * n) / max}%`;
    const track = el("div");
    track.append(fill);
    row.append(el("span", region), track, el("span", fmt.format(n), "num"));
    regions.append(row);
  }
  const countries = $("countries");
  countries.replaceChildren();
  for (const [country, n] of Object.entries(counts.by_country).slice(0, 15)) {
    const tr = el("tr");
    tr.append(el("td", country), el("td", fmt.format(n), "num"));
    countries.append(tr);
  }
  const rejected = $("rejected");
  rejected.replaceChildren();
  for (const [reason, n] of Object.entries(counts.rejected)) {
    const tr = el("tr");
    tr.append(el("td", reason.replace(/_/g, " ")), el("td", fmt.format(n), "num"));
    rejected.append(tr);
  }
  $("status").textContent = `live · ${new Date(counts.as_of).toLocaleTimeString()}`;
}

async function renderTimeline(id) {
  const response = await fetch(`/api/petitions/${encodeURIComponent(id)}/timeline?minutes=120`);
  if (!response.ok) return;
  const series = (await response.json()).per_minute;
  const svg = $("timeline");
  svg.replaceChildren();
  if (!series.length) return;
  const max = Math.max(1, ...series.map((p) => p.signatures));
  const width = Math.min(800 / series.length, 40);
  series.forEach((point, i) => {
    const h = (190 * point.signatures) / max;
    const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    rect.setAttribute("x", String(i * width));
    rect.setAttribute("y", String(200 - h));
    rect.setAttribute("width", String(Math.max(1, width - 1)));
    rect.setAttribute("height", String(h));
    rect.setAttribute("fill", "#1d1d1f");
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `${point.minute}: ${point.signatures}`;
    rect.append(title);
    svg.append(rect);
  });
}

function follow(id) {
  if (source) source.close();
  const petition = petitions.find((p) => p.petition_id === id);
  $("title").textContent = petition ? petition.title : id;
  source = new EventSource(`/api/petitions/${encodeURIComponent(id)}/events`);
  source.addEventListener("counts", (event) => {
    renderCounts(JSON.parse(event.data));
    renderTimeline(id);
  });
  source.onerror = () => { $("status").textContent = "reconnecting…"; };
}

async function start() {
  petitions = await (await fetch("/api/petitions")).json();
  const select = $("petition");
  for (const p of petitions) {
    const option = el("option", p.title);
    option.value = p.petition_id;
    select.append(option);
  }
  const wanted = new URLSearchParams(location.search).get("petition");
  if (wanted && petitions.some((p) => p.petition_id === wanted)) select.value = wanted;
  select.addEventListener("change", () => follow(select.value));
  if (select.value) follow(select.value);
  else $("status").textContent = "no petitions yet";
}

start();
