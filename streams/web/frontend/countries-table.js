// The countries table: every country with signatures, by its name in the reader's
// language, sortable by name, signatures or share (buttons in the headers, so the
// keyboard sorts too; aria-sort tells screen readers the order).
import { countryName, el, formatNumber, formatShare } from "./format.js";

const COLUMNS = [
  { key: "name", label: "Country", numeric: false },
  { key: "signatures", label: "Signatures", numeric: true },
  { key: "share", label: "Share", numeric: true },
];
// The top rows shown before "Show all": more where the table has a tall column of its own.
const firstRows = () => (window.matchMedia("(min-width: 1200px)").matches ? 25 : 15);

export class CountriesTable {
  constructor({ table, moreButton, caption }) {
    this.table = table;
    this.moreButton = moreButton;
    this.caption = caption;
    this.sort = { key: "signatures", descending: true };
    this.showAll = false;
    this.rows = [];
    this.region = null;
    this.buildHead();
    moreButton.addEventListener("click", () => {
      this.showAll = !this.showAll;
      this.renderBody();
    });
  }

  buildHead() {
    const row = el("tr");
    this.headers = COLUMNS.map((column) => {
      const th = el("th", null, column.numeric ? "num" : "");
      th.scope = "col";
      const button = el("button", column.label, "sort");
      button.type = "button";
      button.addEventListener("click", () => {
        const same = this.sort.key === column.key;
        this.sort = { key: column.key, descending: same ? !this.sort.descending : column.numeric };
        this.renderBody();
      });
      th.append(button);
      row.append(th);
      return { th, column };
    });
    const thead = el("thead");
    thead.append(row);
    this.tbody = el("tbody");
    this.table.replaceChildren(this.caption, thead, this.tbody);
  }

  /** by_country of /counts; regionOf to filter by the region selected on the map. */
  render(byCountry, total, regionOf) {
    this.regionOf = regionOf || this.regionOf || {};
    this.total = total;
    this.rows = Object.entries(byCountry)
      .filter(([, n]) => n > 0)
      .map(([code, n]) => ({ code, name: countryName(code), signatures: n, share: total ? n / total : 0 }));
    this.renderBody();
  }

  selectRegion(region) {
    this.region = region;
    this.renderBody();
  }

  /** What the table shows now (for the downloads): filtered and sorted, every row. */
  visibleRows() {
    const { key, descending } = this.sort;
    const rows = this.rows.filter((r) => !this.region || this.regionOf[r.code] === this.region);
    rows.sort((a, b) => {
      const order = key === "name" ? a.name.localeCompare(b.name) : a[key] - b[key];
      return (descending ? -order : order) || a.name.localeCompare(b.name);
    });
    return rows;
  }

  renderBody() {
    const rows = this.visibleRows();
    const first = firstRows();
    const shown = this.showAll ? rows : rows.slice(0, first);
    this.tbody.replaceChildren(
      ...shown.map((row) => {
        const tr = el("tr");
        tr.dataset.country = row.code;
        const name = el("th", row.name);
        name.scope = "row";
        tr.append(name, el("td", formatNumber(row.signatures), "num"), el("td", formatShare(row.share), "num"));
        return tr;
      }),
    );
    for (const { th, column } of this.headers) {
      const sorted = this.sort.key === column.key;
      th.setAttribute("aria-sort", sorted ? (this.sort.descending ? "descending" : "ascending") : "none");
      th.querySelector("button").dataset.sorted = sorted ? (this.sort.descending ? "desc" : "asc") : "";
    }
    const where = this.region ? ` in ${this.region}` : "";
    this.caption.textContent = rows.length
      ? `${formatNumber(rows.length)} countries${where}, ${this.showAll ? "all shown" : `top ${Math.min(first, rows.length)} shown`}`
      : `No signatures${where} yet`;
    this.moreButton.hidden = rows.length <= first;
    this.moreButton.textContent = this.showAll ? `Show the top ${first}` : `Show all ${formatNumber(rows.length)} countries`;
    this.moreButton.setAttribute("aria-expanded", String(this.showAll));
  }
}
