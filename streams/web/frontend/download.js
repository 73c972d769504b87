// Downloads of what is on screen, made in the browser: a Blob behind an object URL and
// an <a download> (no server round trip, nothing the page's CSP forbids).

function save(filename, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function downloadJSON(filename, snapshot) {
  save(filename, "application/json", `${JSON.stringify(snapshot, null, 2)}\n`);
}

/** One CSV of the whole screen, long format: what (section), key, label, value. */
export function downloadCSV(filename, rows) {
  const cell = (value) => {
    const text = value == null ? "" : String(value);
    // Quote what needs it, and defuse cells a spreadsheet would run as a formula.
    const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const lines = [["section", "key", "label", "value"], ...rows].map((row) => row.map(cell).join(","));
  save(filename, "text/csv", `${lines.join("\r\n")}\r\n`);
}
