// Countersign's live dashboard: wires the panels to the serve API. Counts arrive over
// server-sent events (`counts` on every change, `timeline` every 15 s when it moved);
// longer time ranges and the comparison are fetched on a schedule. Every string from
// data is set as text.
import { fetchCounts, fetchPetitions, fetchTimeline, followLive, normalizeTimeline } from "./api.js";
import { CountriesTable } from "./countries-table.js";
import { downloadCSV, downloadJSON } from "./download.js";
import { REGIONS, el, formatNumber, formatShare, reasonLabel } from "./format.js";
import { CompareChart, RegionChart, TimelineChart } from "./timechart.js";
import { WorldMap } from "./worldmap.js";

const $ = (id) => document.getElementById(id);
const ZOOMS = [
  { id: "minute", label: "3 hours, per minute", minutes: 180, bucket: "minute" },
  { id: "hour", label: "7 days, per hour", minutes: 7 * 24 * 60, bucket: "hour" },
  { id: "day", label: "1 year, per day", minutes: 365 * 24 * 60, bucket: "day" },
];
const REFRESH_MS = 15_000;
const MAX_COMPARED = 6;

const state = {
  petitions: [],
  id: null,
  counts: null,
  zoom: ZOOMS[0],
  region: null,
  minuteTimeline: null, // from the `timeline` events: the rates, and the 3-hour chart
  lastLiveTimeline: 0,
  zoomTimeline: null,
  shownTimeline: null, // what the charts draw: {times, data}
  shownRegions: null,
  totals: {}, // petition -> total, for the comparison
  compared: new Set(),
  compareTimelines: [],
  stopLive: null,
  connection: "connecting", // live, reconnecting, full or offline
};

const map = new WorldMap({ host: $("map"), legend: $("legend"), tooltip: $("map-tooltip") });
const table = new CountriesTable({
  table: $("countries"),
  moreButton: $("countries-more"),
  caption: $("countries-caption"),
});
const timeline = new TimelineChart($("timeline"), 240);
const regionChart = new RegionChart($("regions-timeline"), 220);
const compare = new CompareChart($("compare"), 240);

const petition = (id) => state.petitions.find((p) => p.petition_id === id);
const title = (id) => (petition(id) ? petition(id).title : id);

// -- the numbers ------------------------------------------------------------------
function renderCounts(counts) {
  state.counts = counts;
  $("total").textContent = formatNumber(counts.total);
  $("pending").textContent = formatNumber(counts.pending || 0);
  renderThreshold(counts.total);
  renderRegions(counts);
  map.render(counts.by_country, counts.total);
  table.render(counts.by_country, counts.total, map.regionOf);
  renderNotCounted(counts);
  state.totals[state.id] = counts.total;
  renderTimeline(); // the running totals end at the new total
  const at = new Date(counts.as_of || Date.now()).toLocaleTimeString();
  setStatus(state.connection === "live" ? `Live · updated ${at}` : `Snapshot of ${at}`);
}

function renderThreshold(total) {
  const thresholds = (petition(state.id) || {}).thresholds || [];
  const next = thresholds.find((t) => t > total);
  const progress = $("threshold-progress");
  if (!thresholds.length) {
    progress.hidden = true;
    $("threshold-text").textContent = "This petition sets no milestones.";
  } else if (next === undefined) {
    progress.hidden = false;
    progress.max = 1;
    progress.value = 1;
    $("threshold-text").textContent = `Every milestone reached (the last: ${formatNumber(thresholds.at(-1))}).`;
  } else {
    progress.hidden = false;
    progress.max = next;
    progress.value = total;
    $("threshold-text").textContent =
      `${formatNumber(total)} of ${formatNumber(next)} (${formatShare(total / next)}), ` +
      `${formatNumber(next - total)} to go.`;
  }
}

function renderRates(rate) {
  $("rate-minute").textContent = rate ? formatNumber(rate.last_minute) : "–";
  $("rate-hour").textContent = rate ? formatNumber(rate.last_hour) : "–";
}

/** The regions' table (signatures, share, waiting), and the region buttons, which
 * select a region on the map and in the countries table. */
function renderRegions(counts) {
  for (const button of $("regions").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String((button.dataset.region || null) === state.region));
  }
  const pending = counts.pending_by_region || {};
  $("region-table").replaceChildren(
    ...REGIONS.map((region) => {
      const n = counts.by_region[region] || 0;
      const tr = el("tr");
      tr.dataset.region = region;
      if (region === state.region) tr.className = "selected";
      const name = el("th", region);
      name.scope = "row";
      tr.append(
        name,
        el("td", formatNumber(n), "num"),
        el("td", formatShare(counts.total ? n / counts.total : 0), "num"),
        el("td", formatNumber(pending[region] || 0), "num"),
      );
      return tr;
    }),
  );
  const summary = $("region-summary");
  if (state.region) {
    const n = counts.by_region[state.region] || 0;
    summary.textContent = `${state.region}: ${formatNumber(n)} signatures, ${formatShare(counts.total ? n / counts.total : 0)} of the total.`;
  } else {
    summary.textContent = "Darker lines divide the five regions; select one to highlight it.";
  }
}

function buildRegionButtons() {
  const group = $("regions");
  for (const region of [null, ...REGIONS]) {
    const button = el("button", null, "region");
    button.type = "button";
    if (region) button.dataset.region = region;
    button.textContent = region || "All regions";
    button.setAttribute("aria-pressed", String(region === null));
    button.addEventListener("click", () => {
      state.region = region;
      map.selectRegion(region);
      table.selectRegion(region);
      if (state.counts) renderRegions(state.counts);
    });
    group.append(button);
  }
}

function renderNotCounted(counts) {
  const rows = (entries, label) =>
    entries.length
      ? entries.map(([key, n]) => {
          const tr = el("tr");
          const name = el("th", label(key));
          name.scope = "row";
          tr.append(name, el("td", formatNumber(n), "num"));
          return tr;
        })
      : [emptyRow("None")];
  const rejected = Object.entries(counts.rejected || {}).sort((a, b) => b[1] - a[1]);
  $("rejected").replaceChildren(...rows(rejected, reasonLabel));
  const pending = Object.entries(counts.pending_by_region || {}).filter(([, n]) => n > 0);
  $("pending-regions").replaceChildren(...rows(pending, (r) => r));
}

function emptyRow(text) {
  const tr = el("tr");
  const td = el("td", text, "muted");
  td.colSpan = 2;
  tr.append(td);
  return tr;
}

// -- time ---------------------------------------------------------------------------
function renderTimeline() {
  const shown = state.zoom.bucket === "minute" ? state.minuteTimeline : state.zoomTimeline;
  if (!shown) return;
  state.shownTimeline = timeline.render(shown, state.zoom.minutes);
  const hasRegions = shown.points.some((p) => Object.keys(p.by_region).length);
  $("regions-timeline-box").hidden = !hasRegions; // an older server sends no regions
  if (hasRegions && state.counts) {
    state.shownRegions = regionChart.render(shown, state.zoom.minutes, state.counts.by_region);
  }
  renderCompare();
}

function onLiveTimeline(answer) {
  state.minuteTimeline = normalizeTimeline(answer, "minute");
  state.lastLiveTimeline = Date.now();
  renderRates(state.minuteTimeline.rate);
  if (state.zoom.bucket === "minute") renderTimeline();
}

/** What the schedule fetches: the chart's range unless the live stream brings it, and
 * the compared petitions. */
async function refresh() {
  const id = state.id;
  const zoom = state.zoom;
  try {
    const liveIsFresh = Date.now() - state.lastLiveTimeline < REFRESH_MS + 5_000;
    if (!liveIsFresh) {
      const minutes = await fetchTimeline(id, ZOOMS[0]);
      if (id !== state.id) return;
      state.minuteTimeline = minutes;
      renderRates(minutes.rate);
    }
    if (zoom.bucket !== "minute") {
      const answer = await fetchTimeline(id, zoom);
      if (id !== state.id || zoom !== state.zoom) return;
      state.zoomTimeline = answer;
    }
    const others = [...state.compared].filter((other) => other !== id);
    const [petitions, ...fetched] = await Promise.all([
      others.length ? fetchPetitions() : [],
      ...others.map((other) => fetchTimeline(other, zoom)),
    ]);
    for (const p of petitions) if (p.petition_id !== id) state.totals[p.petition_id] = p.total;
    if (id !== state.id || zoom !== state.zoom) return;
    state.compareTimelines = others.map((other, i) => ({ petition_id: other, title: title(other), timeline: fetched[i] }));
    renderTimeline();
  } catch (error) {
    setStatus(`Could not refresh the charts (${error.message}); trying again shortly.`);
  }
}

function renderCompare() {
  const own = state.zoom.bucket === "minute" ? state.minuteTimeline : state.zoomTimeline;
  const series = [
    ...(own && state.compared.has(state.id) ? [{ petition_id: state.id, title: title(state.id), timeline: own }] : []),
    ...state.compareTimelines.filter((t) => state.compared.has(t.petition_id)),
  ].map((s) => ({ ...s, total: state.totals[s.petition_id] ?? 0 }));
  $("compare-empty").hidden = series.length > 0;
  if (series.length) state.shownCompare = { series, ...compare.render(series, state.zoom.minutes, state.zoom.bucket) };
}

function buildZoomButtons() {
  const group = $("zoom");
  for (const zoom of ZOOMS) {
    const button = el("button", zoom.label, "zoom");
    button.type = "button";
    button.dataset.zoom = zoom.id;
    button.setAttribute("aria-pressed", String(zoom === state.zoom));
    button.addEventListener("click", () => {
      state.zoom = zoom;
      state.zoomTimeline = null;
      for (const other of group.querySelectorAll("button")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      $("timeline-heading").textContent = `Signatures over time, ${zoom.label}`;
      renderTimeline();
      refresh();
    });
    group.append(button);
  }
}

function buildComparePicker() {
  const box = $("compare-pick");
  box.querySelectorAll("label").forEach((label) => label.remove());
  // The current petition and the others, biggest first, up to six at first.
  const ordered = [...state.petitions].sort((a, b) => b.total - a.total);
  for (const p of state.petitions) state.totals[p.petition_id] = p.total;
  state.compared = new Set(
    [state.id, ...ordered.map((p) => p.petition_id).filter((id) => id !== state.id)].slice(0, MAX_COMPARED),
  );
  for (const p of ordered) {
    const label = el("label", null, "pick");
    const box_ = el("input");
    box_.type = "checkbox";
    box_.value = p.petition_id;
    box_.checked = state.compared.has(p.petition_id);
    box_.addEventListener("change", () => {
      if (box_.checked) state.compared.add(p.petition_id);
      else state.compared.delete(p.petition_id);
      renderCompare();
      refresh();
    });
    label.append(box_, el("span", p.title));
    box.append(label);
  }
}

// -- downloads --------------------------------------------------------------------------
function snapshot() {
  const counts = state.counts || {};
  const chart = state.shownTimeline;
  const regions = state.shownRegions;
  const points = chart
    ? chart.times.map((t, i) => ({
        at: new Date(t).toISOString(),
        signatures: chart.data[1][i],
        ...(regions && regions.times[i] === t
          ? { total_by_region: Object.fromEntries(REGIONS.map((r, j) => [r, regions.data[1 + j][i]])) }
          : {}),
      }))
    : [];
  return {
    petition_id: state.id,
    title: title(state.id),
    as_of: counts.as_of,
    total: counts.total,
    rate: state.minuteTimeline ? state.minuteTimeline.rate : null,
    pending: counts.pending || 0,
    by_region: counts.by_region || {},
    region_selected: state.region,
    countries: table.visibleRows().map(({ code, name, signatures, share }) => ({ code, name, signatures, share })),
    rejected: counts.rejected || {},
    pending_by_region: counts.pending_by_region || {},
    timeline: { bucket: state.zoom.bucket, minutes: state.zoom.minutes, points },
    compared: (state.shownCompare ? state.shownCompare.series : []).map(({ petition_id, title: name }, i) => ({
      petition_id,
      title: name,
      points: state.shownCompare.times.map((t, j) => ({
        at: new Date(t).toISOString(),
        total: state.shownCompare.data[1 + i][j],
      })),
    })),
  };
}

function snapshotRows(s) {
  const rows = [
    ["petition", s.petition_id, s.title, ""],
    ["total", "", "signatures", s.total],
    ["pending", "", "waiting for confirmation", s.pending],
  ];
  if (s.rate) rows.push(["rate", "last_minute", "", s.rate.last_minute], ["rate", "last_hour", "", s.rate.last_hour]);
  for (const [region, n] of Object.entries(s.by_region)) rows.push(["region", region, region, n]);
  for (const c of s.countries) rows.push(["country", c.code, c.name, c.signatures]);
  for (const [reason, n] of Object.entries(s.rejected)) rows.push(["rejected", reason, reasonLabel(reason), n]);
  for (const [region, n] of Object.entries(s.pending_by_region)) rows.push(["pending_by_region", region, region, n]);
  for (const p of s.timeline.points) {
    rows.push([`signatures_per_${s.timeline.bucket}`, p.at, "all regions", p.signatures]);
    for (const [region, n] of Object.entries(p.total_by_region || {})) rows.push(["total_by_region", p.at, region, n]);
  }
  for (const c of s.compared) {
    for (const p of c.points) rows.push(["total_by_petition", p.at, c.petition_id, p.total]);
  }
  return rows;
}

function stamp() {
  return new Date().toISOString().replace(/[:]/g, "-").replace(/\..*/, "");
}

// -- the connection -------------------------------------------------------------------
function setStatus(text) {
  $("status").textContent = text;
}

function onLiveState({ state: connection, retryIn, status }) {
  state.connection = connection;
  const notice = $("notice");
  if (connection === "live") {
    notice.hidden = true;
    setStatus("Live");
  } else if (connection === "reconnecting") {
    setStatus("Connection lost, reconnecting…");
  } else {
    notice.hidden = false;
    notice.textContent =
      connection === "full"
        ? `Too many people are watching live right now, so live updates are paused. ` +
          `The numbers below are a snapshot; the page tries again in ${formatNumber(retryIn)} seconds.`
        : `The live connection failed${status ? ` (HTTP ${status})` : ""}; the page tries again in ${formatNumber(retryIn)} seconds.`;
    setStatus(connection === "full" ? "Paused: too many viewers" : "Offline");
    // A snapshot meanwhile, if the server gives one.
    fetchCounts(state.id).then(renderCounts, () => {});
  }
}

function follow(id) {
  if (state.stopLive) state.stopLive();
  Object.assign(state, {
    id,
    counts: null,
    minuteTimeline: null,
    zoomTimeline: null,
    lastLiveTimeline: 0,
    compareTimelines: [],
    connection: "connecting",
  });
  $("title").textContent = title(id);
  document.title = `${title(id)} · Countersign live counts`;
  const url = new URL(location.href);
  url.searchParams.set("petition", id);
  history.replaceState(null, "", url);
  setStatus("Connecting…");
  buildComparePicker();
  state.stopLive = followLive(id, { onCounts: renderCounts, onTimeline: onLiveTimeline, onState: onLiveState });
  refresh();
}

async function start() {
  buildRegionButtons();
  buildZoomButtons();
  $("download-json").addEventListener("click", () => downloadJSON(`countersign-${state.id}-${stamp()}.json`, snapshot()));
  $("download-csv").addEventListener("click", () => downloadCSV(`countersign-${state.id}-${stamp()}.csv`, snapshotRows(snapshot())));
  const mapReady = map.load().then(() => state.counts && renderCounts(state.counts));
  try {
    state.petitions = await fetchPetitions();
  } catch (error) {
    setStatus(`Could not load the petitions (${error.message}).`);
    return;
  }
  const select = $("petition");
  for (const p of state.petitions) {
    const option = el("option", p.title);
    option.value = p.petition_id;
    select.append(option);
  }
  const wanted = new URLSearchParams(location.search).get("petition");
  if (wanted && petition(wanted)) select.value = wanted;
  select.addEventListener("change", () => follow(select.value));
  if (!select.value) {
    setStatus("No petitions yet.");
    return;
  }
  follow(select.value);
  setInterval(refresh, REFRESH_MS);
  await mapReady;
}

start();
