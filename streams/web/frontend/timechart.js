// Time series drawn by uPlot: signatures per bucket (minute, hour or day) with the
// regions' share of them, and several petitions on one chart. This module only shapes
// the data (every bucket of the window, empty ones as 0, so bars sit at their time and
// lines fall to 0) and sizes the charts to their card; uPlot draws axes, time labels,
// the cursor and the legend.
import uPlot from "uplot";
import { bucketMs } from "./api.js";
import { REGIONS, REGION_STYLE, SERIES_STYLE, formatNumber, formatTime } from "./format.js";

const PER = { minute: "per minute", hour: "per hour", day: "per day" };

/** Start times (ms) of every bucket from the window's start (or the first point, if
 * older) to now. */
export function bucketTimes(points, bucket, windowMinutes, now = Date.now()) {
  const size = bucketMs(bucket);
  const first = Math.min(now - windowMinutes * 60_000, ...points.map((p) => p.at));
  const times = [];
  for (let at = Math.floor(first / size) * size; at <= now; at += size) times.push(at);
  return times;
}

function valueFormatter(_, value) {
  return value == null ? "–" : formatNumber(value);
}

/** A floating box at the cursor with the bucket's time and every series' value: the
 * legend says the same, this puts it where the reader looks. */
function tooltipPlugin(bucketOf) {
  let box;
  return {
    hooks: {
      init: (u) => {
        box = document.createElement("div");
        box.className = "chart-tooltip";
        box.hidden = true;
        u.over.append(box);
      },
      setCursor: (u) => {
        const i = u.cursor.idx;
        if (i == null || u.data[0][i] == null) {
          box.hidden = true;
          return;
        }
        box.replaceChildren();
        const time = document.createElement("strong");
        time.textContent = formatTime(new Date(u.data[0][i] * 1000), bucketOf());
        box.append(time);
        u.series.forEach((series, s) => {
          if (s === 0 || !series.show || u.data[s][i] == null) return;
          const line = document.createElement("span");
          line.textContent = `${series.label}: ${formatNumber(u.data[s][i])}`;
          box.append(line);
        });
        box.hidden = false;
        const left = Math.min(u.cursor.left + 10, u.over.clientWidth - box.offsetWidth);
        box.style.left = `${Math.max(0, left)}px`;
        box.style.top = `${Math.max(0, u.cursor.top - box.offsetHeight - 8)}px`;
      },
    },
  };
}

class Chart {
  constructor(host, height) {
    this.host = host;
    this.height = height;
    this.plot = null;
    // uPlot draws at a size in pixels: follow the card's width.
    new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.width(), height: this.currentHeight() });
    }).observe(host);
  }

  width() {
    return Math.max(240, this.host.clientWidth);
  }

  currentHeight() {
    return this.host.clientWidth < 500 ? Math.round(this.height * 0.8) : this.height;
  }

  draw(options, data) {
    // The same series as before: new data only, so a hover or a zoom is not lost.
    // New counts arrive every second: a range the reader dragged to stays (only the
    // double-click that zooms out lets the axes follow the data again).
    const key = options.series.map((s) => s.label).join("\n") + this.bucket;
    if (this.plot && key === this.key) {
      this.plot.setData(data, !this.zoomed);
      return;
    }
    this.key = key;
    this.zoomed = false;
    if (this.plot) this.plot.destroy();
    const followZoom = (u, scale) => {
      if (scale !== "x" || !u.data[0].length) return;
      const xs = u.data[0];
      this.zoomed = u.scales.x.min > xs[0] || u.scales.x.max < xs[xs.length - 1];
    };
    this.plot = new uPlot(
      { width: this.width(), height: this.currentHeight(), ...options, hooks: { setScale: [followZoom] } },
      data,
      this.host,
    );
    // The browser tests read what is plotted from here (the uPlot instance).
    this.host.uplot = this.plot;
  }

  /** One time chart of ``bucket``s: the time axis, a y axis named ``yLabel``, the
   * ``series`` after the time, dragging to zoom, the tooltip; ``sync`` shares the
   * cursor with the charts of the same key. */
  plotOver(bucket, className, yLabel, data, series, sync = undefined) {
    this.bucket = bucket;
    this.draw(
      {
        class: className,
        cursor: sync ? { drag: { x: true, y: false }, sync } : { drag: { x: true, y: false } },
        scales: { y: { range: (_, min, max) => [0, Math.max(4, max * 1.1)] } },
        axes: axes(yLabel),
        series: [timeSeries(bucket), ...series],
        plugins: [tooltipPlugin(() => this.bucket)],
      },
      data,
    );
  }
}

function axes(label) {
  return [
    { stroke: "#333", grid: { stroke: "#e3e3e3" }, ticks: { stroke: "#bbb" } },
    {
      stroke: "#333",
      grid: { stroke: "#e3e3e3" },
      ticks: { stroke: "#bbb" },
      label,
      size: 60,
      values: (_, ticks) => ticks.map((t) => formatNumber(t)),
    },
  ];
}

/** The total at the end of each bucket: today's total less what came after it. */
export function runningTotals(perBucket, totalNow) {
  const totals = new Array(perBucket.length);
  let later = 0;
  for (let i = perBucket.length - 1; i >= 0; i -= 1) {
    totals[i] = Math.max(0, totalNow - later);
    later += perBucket[i];
  }
  return totals;
}

function timeSeries(bucket) {
  return { label: "Time", value: (_, v) => (v == null ? "–" : formatTime(new Date(v * 1000), bucket)) };
}

/** A running total's line, told apart by its colour and its dash (colour-blind
 * readers see the dash). */
function line(label, style) {
  return { label, stroke: style.stroke, dash: style.dash, width: 2, points: { show: false }, value: valueFormatter };
}

// The bars and the regions' lines share a cursor: hovering one shows the same time
// on the other.
const SYNC = { key: "countersign-timeline", setSeries: false };

/** Signatures of one petition per bucket, as bars. */
export class TimelineChart extends Chart {
  render(timeline, windowMinutes) {
    const times = bucketTimes(timeline.points, timeline.bucket, windowMinutes);
    const byTime = new Map(timeline.points.map((p) => [p.at, p]));
    const data = [times.map((t) => t / 1000), times.map((t) => (byTime.get(t) ? byTime.get(t).signatures : 0))];
    this.plotOver(timeline.bucket, "timeline-plot", `Signatures ${PER[timeline.bucket]}`, data, [
      {
        label: `Signatures ${PER[timeline.bucket]}`,
        stroke: "#0072B2",
        fill: "rgba(0, 114, 178, 0.55)",
        width: 0,
        paths: uPlot.paths.bars({ size: [0.85, 48] }),
        points: { show: false },
        value: valueFormatter,
      },
    ], SYNC);
    return { times, data };
  }
}

/** Each region's running total over the same buckets: how the regions grew. */
export class RegionChart extends Chart {
  render(timeline, windowMinutes, byRegionNow) {
    const times = bucketTimes(timeline.points, timeline.bucket, windowMinutes);
    const byTime = new Map(timeline.points.map((p) => [p.at, p.by_region]));
    const data = [
      times.map((t) => t / 1000),
      ...REGIONS.map((region) =>
        runningTotals(
          times.map((t) => (byTime.get(t) ? byTime.get(t)[region] || 0 : 0)),
          byRegionNow[region] || 0,
        ),
      ),
    ];
    const lines = REGIONS.map((region) => line(region, REGION_STYLE[region]));
    this.plotOver(timeline.bucket, "region-plot", "Total signatures", data, lines, SYNC);
    return { times, data };
  }
}

/** Several petitions' running totals, one line each. */
export class CompareChart extends Chart {
  render(timelines, windowMinutes, bucket) {
    const all = timelines.flatMap((t) => t.timeline.points);
    const times = bucketTimes(all, bucket, windowMinutes);
    const data = [
      times.map((t) => t / 1000),
      ...timelines.map(({ timeline, total }) => {
        const byTime = new Map(timeline.points.map((p) => [p.at, p.signatures]));
        return runningTotals(times.map((t) => byTime.get(t) || 0), total);
      }),
    ];
    const lines = timelines.map(({ title }, i) => line(title, SERIES_STYLE[i % SERIES_STYLE.length]));
    this.plotOver(bucket, "compare-plot", "Total signatures", data, lines);
    return { times, data };
  }
}
