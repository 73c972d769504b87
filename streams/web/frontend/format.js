// Formatting shared by every panel: numbers, times and country names in the reader's
// language, and a DOM helper that only ever sets text (strings from data are never
// parsed as HTML).

export const numberFormat = new Intl.NumberFormat();
const percentFormat = new Intl.NumberFormat(undefined, {
  style: "percent",
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

export const formatNumber = (n) => numberFormat.format(n);
export const formatShare = (fraction) => percentFormat.format(fraction);

// Intl.DisplayNames gives "Syria", "Syrie", "Siria"... from the browser's own data, so
// the table and the map speak the reader's language without a translation file.
const regionNames = (() => {
  try {
    return new Intl.DisplayNames(navigator.languages, { type: "region" });
  } catch {
    return null;
  }
})();

export function countryName(code) {
  try {
    return (regionNames && regionNames.of(code)) || code;
  } catch {
    return code; // a code the browser does not know: show it as it is
  }
}

export function reasonLabel(reason) {
  const text = reason.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function formatTime(date, bucket) {
  const options =
    bucket === "day"
      ? { year: "numeric", month: "short", day: "numeric" }
      : bucket === "hour"
        ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
        : { hour: "2-digit", minute: "2-digit" };
  return date.toLocaleString(undefined, options);
}

/** A new element with its text (never HTML) and class. */
export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

export const SVG_NS = "http://www.w3.org/2000/svg";
export function svgEl(tag, attributes = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

// The five regions of ARCHITECTURE.md, always in this order, each with a colour of the
// Okabe–Ito palette (told apart by the common colour-vision deficiencies) and a dash
// pattern, so that lines differ by more than colour.
export const REGIONS = [
  "Africa",
  "Americas",
  "Asia and the Pacific",
  "Europe and Central Asia",
  "Middle East and North Africa",
];
export const REGION_STYLE = {
  Africa: { stroke: "#D55E00", dash: [] },
  Americas: { stroke: "#0072B2", dash: [6, 3] },
  "Asia and the Pacific": { stroke: "#009E73", dash: [2, 2] },
  "Europe and Central Asia": { stroke: "#CC79A7", dash: [8, 3, 2, 3] },
  "Middle East and North Africa": { stroke: "#8a6a00", dash: [12, 4] },
};
// Petitions on the comparison chart: the same palette's remaining colours first.
export const SERIES_STYLE = [
  { stroke: "#0072B2", dash: [] },
  { stroke: "#D55E00", dash: [6, 3] },
  { stroke: "#009E73", dash: [2, 2] },
  { stroke: "#CC79A7", dash: [8, 3, 2, 3] },
  { stroke: "#8a6a00", dash: [12, 4] },
  { stroke: "#000000", dash: [4, 4] },
];
