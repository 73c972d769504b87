// The world map: a choropleth of signatures per country. d3-geo projects world-atlas'
// borders (topojson-client turns them into GeoJSON); the colours are d3's viridis
// scheme, made for readers with colour-vision deficiencies, reversed so that more
// signatures read darker on a light page. A logarithmic scale, because one country
// often has a hundred times the signatures of another.
import { geoEqualEarth, geoPath } from "d3-geo";
import { scaleSequentialLog } from "d3-scale";
import { interpolateViridis } from "d3-scale-chromatic";
import { feature, mesh } from "topojson-client";
import { countryName, formatNumber, formatShare, svgEl } from "./format.js";

const WIDTH = 960;
const HEIGHT = 470;
const NO_SIGNATURES = "#d6d6d6";
const colourAt = (t) => interpolateViridis(1 - 0.95 * t);

export class WorldMap {
  /** host: an <svg>; legend: an <svg>; tooltip: a positioned element of the card. */
  constructor({ host, legend, tooltip }) {
    this.host = host;
    this.legend = legend;
    this.tooltip = tooltip;
    this.paths = new Map(); // alpha-2 code -> its <path>s (Australia has two)
    this.counts = {};
    this.total = 0;
    this.region = null;
  }

  async load() {
    const [topology, codes] = await Promise.all([
      fetch("/static/dist/countries-50m.json").then((r) => r.json()),
      fetch("/static/dist/geo-codes.json").then((r) => r.json()),
    ]);
    this.regionOf = codes.regionOf;
    const alpha2 = (geometry) =>
      codes.numericToAlpha2[geometry.id] || codes.alpha2ByName[geometry.properties.name] || null;
    for (const geometry of topology.objects.countries.geometries) {
      geometry.properties.code = alpha2(geometry);
    }
    const countries = feature(topology, topology.objects.countries).features;
    const projection = geoEqualEarth().fitExtent(
      [
        [4, 4],
        [WIDTH - 4, HEIGHT - 4],
      ],
      { type: "Sphere" },
    );
    const path = geoPath(projection);
    this.host.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    this.host.replaceChildren(svgEl("path", { d: path({ type: "Sphere" }), class: "sphere" }));

    // In the order of their names, so that the Tab key walks the map alphabetically.
    const named = countries
      .filter((c) => c.properties.code)
      .map((c) => ({ feature: c, name: countryName(c.properties.code) }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const group = svgEl("g", { class: "countries" });
    for (const { feature: country, name } of named) {
      const code = country.properties.code;
      const shape = svgEl("path", { d: path(country), class: "country", "data-country": code });
      shape.dataset.name = name;
      shape.append(svgEl("title"));
      for (const type of ["pointerenter", "focus"]) {
        shape.addEventListener(type, (event) => this.showTooltip(shape, event));
      }
      for (const type of ["pointerleave", "blur"]) {
        shape.addEventListener(type, () => this.hideTooltip());
      }
      group.append(shape);
      this.paths.set(code, [...(this.paths.get(code) || []), shape]);
    }
    // Disputed or unassigned areas world-atlas draws without a code: grey, silent.
    for (const country of countries.filter((c) => !c.properties.code)) {
      group.append(svgEl("path", { d: path(country), class: "country unassigned" }));
    }
    this.host.append(group);

    // Where two regions meet: a darker line, so the five regions read as areas.
    const region = (g) => this.regionOf[g.properties.code] || null;
    const borders = mesh(topology, topology.objects.countries, (a, b) => a !== b && region(a) !== region(b));
    this.host.append(svgEl("path", { d: path(borders), class: "region-border" }));
    this.selectedOutline = svgEl("path", { class: "region-selected" });
    this.host.append(this.selectedOutline);
    this.outlineOf = (name) =>
      path(mesh(topology, topology.objects.countries, (a, b) => (region(a) === name) !== (region(b) === name) || (a === b && region(a) === name)));
    this.render(this.counts, this.total);
  }

  /** Colours every country by its signatures (by_country of /counts). */
  render(counts, total) {
    this.counts = counts;
    this.total = total;
    if (!this.regionOf) return; // borders not loaded yet: load() renders
    const max = Math.max(10, ...Object.values(counts));
    this.scale = scaleSequentialLog(colourAt).domain([1, max]);
    for (const [code, shapes] of this.paths) {
      for (const shape of shapes) this.renderCountry(code, shape, counts[code] || 0);
    }
    this.renderLegend(max);
  }

  renderCountry(code, shape, n) {
    {
      const label = n
        ? `${shape.dataset.name}: ${formatNumber(n)} signatures`
        : `${shape.dataset.name}: no signatures`;
      shape.setAttribute("fill", n ? this.scale(n) : NO_SIGNATURES);
      shape.querySelector("title").textContent = label;
      shape.dataset.signatures = String(n);
      shape.classList.toggle("dimmed", this.region !== null && this.regionOf[code] !== this.region);
      // Countries with signatures are stops of the keyboard and named to screen
      // readers; the others stay quiet (the countries table lists every one).
      if (n) {
        shape.setAttribute("tabindex", "0");
        shape.setAttribute("role", "img");
        shape.setAttribute("aria-label", label);
        shape.removeAttribute("aria-hidden");
      } else {
        shape.removeAttribute("tabindex");
        shape.removeAttribute("role");
        shape.removeAttribute("aria-label");
        shape.setAttribute("aria-hidden", "true");
      }
    }
  }

  /** Highlights one region (or none: null): others are dimmed, its outline drawn. */
  selectRegion(region) {
    this.region = region;
    this.selectedOutline.setAttribute("d", region ? this.outlineOf(region) || "" : "");
    this.render(this.counts, this.total);
  }

  renderLegend(max) {
    const width = 260;
    const stops = svgEl("linearGradient", { id: "map-scale" });
    for (let i = 0; i <= 10; i += 1) {
      stops.append(svgEl("stop", { offset: `${i * 10}%`, "stop-color": colourAt(i / 10) }));
    }
    const x = (n) => 70 + (width - 80) * (Math.log(n) / Math.log(max));
    const parts = [
      svgEl("defs"),
      svgEl("rect", { x: 0, y: 6, width: 14, height: 14, fill: NO_SIGNATURES, stroke: "#767676" }),
      svgEl("text", { x: 18, y: 18, class: "legend-label" }),
      svgEl("rect", { x: 70, y: 6, width: width - 80, height: 14, fill: "url(#map-scale)", stroke: "#767676" }),
    ];
    parts[0].append(stops);
    parts[2].textContent = "none";
    const ticks = this.scale.ticks(4).filter((t) => t >= 1 && t <= max && Number.isInteger(t));
    const shown = [...new Set([1, ...ticks.filter((t) => /^10*$/.test(String(t))), max])];
    for (const tick of shown) {
      const label = svgEl("text", { x: x(tick), y: 36, "text-anchor": "middle", class: "legend-label" });
      label.textContent = formatNumber(tick);
      parts.push(svgEl("line", { x1: x(tick), x2: x(tick), y1: 20, y2: 25, stroke: "#444" }), label);
    }
    this.legend.setAttribute("viewBox", `-2 0 ${width + 24} 40`);
    this.legend.setAttribute(
      "aria-label",
      `Colour scale: grey for no signatures, then from light yellow (1) through green to dark purple (${formatNumber(max)}), on a logarithmic scale`,
    );
    this.legend.replaceChildren(...parts);
  }

  showTooltip(shape, event) {
    const n = Number(shape.dataset.signatures || 0);
    const code = shape.dataset.country;
    this.tooltip.replaceChildren();
    const name = document.createElement("strong");
    name.textContent = shape.dataset.name;
    const detail = document.createElement("span");
    detail.textContent = n
      ? `${formatNumber(n)} signatures · ${formatShare(this.total ? n / this.total : 0)} · ${this.regionOf[code] || ""}`
      : `no signatures · ${this.regionOf[code] || ""}`;
    this.tooltip.append(name, detail);
    this.tooltip.hidden = false;
    // Next to the pointer, or to the country's box when the keyboard brought focus.
    const card = this.tooltip.offsetParent || document.body;
    const area = card.getBoundingClientRect();
    const box = shape.getBoundingClientRect();
    const at =
      event && event.type === "pointerenter"
        ? { x: event.clientX, y: event.clientY }
        : { x: box.left + box.width / 2, y: box.top + box.height / 2 };
    const left = Math.min(Math.max(0, at.x - area.left + 12), area.width - this.tooltip.offsetWidth - 4);
    this.tooltip.style.left = `${left}px`;
    this.tooltip.style.top = `${at.y - area.top + 12}px`;
  }

  hideTooltip() {
    this.tooltip.hidden = true;
  }
}
