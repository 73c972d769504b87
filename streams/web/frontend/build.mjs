// Build of the dashboard (`npm run build`, run by `make install`): esbuild bundles the
// ES modules of this folder into streams/web/static/dist/, and the files the page must
// load as its own (the CSP allows 'self' only: no CDN, no data: URLs) are copied or
// generated next to the bundle.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..", "..");
const dist = join(repo, "streams", "web", "static", "dist");
mkdirSync(dist, { recursive: true });

await build({
  // The dashboard, and the /receipt page's check (docs/transparency.md).
  entryPoints: [join(here, "dashboard.js"), join(here, "receipt.js")],
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: true,
  outdir: dist,
  logLevel: "warning",
});

// uPlot's stylesheet and the world's borders are served as files of their own.
copyFileSync(require.resolve("uplot/dist/uPlot.min.css"), join(dist, "uPlot.min.css"));
copyFileSync(require.resolve("world-atlas/countries-50m.json"), join(dist, "countries-50m.json"));

// world-atlas names countries by ISO 3166 numeric code, the API by alpha-2: the table
// between them comes from i18n-iso-countries now, so the page does not carry that
// package. Kosovo has no numeric code (world-atlas leaves its id out); it is matched by
// name. Regions come from the pipeline's own data file, so the map outlines exactly
// the regions the counts use.
const isoCountries = require("i18n-iso-countries");
const numericToAlpha2 = isoCountries.getNumericCodes(); // {"760": "SY", ...}
const regionOf = {};
const csv = readFileSync(join(repo, "streams", "regions", "five_regions.csv"), "utf8");
for (const line of csv.split("\n")) {
  if (!line || line.startsWith("#") || line.startsWith("code,")) continue;
  const [code, region] = line.split(",");
  regionOf[code] = region;
}
writeFileSync(
  join(dist, "geo-codes.json"),
  JSON.stringify({ numericToAlpha2, alpha2ByName: { Kosovo: "XK" }, regionOf }),
);
