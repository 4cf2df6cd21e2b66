"""The report's style sheet and script, inlined into every page (it must work offline).

The script only adds behaviour to what the server rendered (sortable tables, a filter for the
steps that drop rows); the page reads the same without it. A first, separate script marks any
script error on the page (`data-js-errors`), and the main one marks it done (`data-js`)."""

CSS = """
:root { --kept: #2f855a; --dropped: #c53030; --line: #d9dde3; --muted: #5f6b7a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a202c;
  margin: 0 auto; padding: 16px 24px 48px; max-width: 1200px; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 6px; }
.meta { color: var(--muted); margin: 0 0 12px; }
.meta code { color: #1a202c; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
  font-weight: 600; }
.status.succeeded { background: var(--kept); }
.status.failed { background: var(--dropped); }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 130px; }
.card b { display: block; font-size: 18px; }
.card span { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: #f4f6f8; font-weight: 600; white-space: nowrap; }
th.sortable { cursor: pointer; }
th.sortable:hover { background: #e6eaef; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.sql, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12px; }
td.sql { word-break: break-word; }
tr.nodrop td { color: var(--muted); }
.hidden { display: none; }
pre.error { background: #fff5f5; border: 1px solid #feb2b2; padding: 10px; white-space: pre-wrap;
  overflow-x: auto; }
.empty { color: var(--muted); font-style: italic; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }
.signals { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 12px; }
.signal { border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
.signal h3 { margin: 0 0 4px; }
svg text.axis { font-size: 10px; fill: var(--muted); }
details { margin: 4px 0; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 4px 16px; }
.pair h4 { margin: 4px 0 0 8px; font-size: 12px; color: var(--muted); font-weight: 600; }
summary { cursor: pointer; }
.example { border-left: 3px solid var(--line); margin: 4px 0 4px 8px; padding: 2px 8px; }
.example.kept { border-color: var(--kept); }
.example.dropped { border-color: var(--dropped); }
.example dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 4px 0; }
.example dt { color: var(--muted); font-size: 12px; }
.example dd { margin: 0; white-space: pre-wrap; word-break: break-word; max-height: 8em;
  overflow: auto; }
ul.examples { margin: 0; padding-left: 16px; word-break: break-all; }
label.filter { font-weight: normal; color: var(--muted); font-size: 13px; }
"""

ERROR_HOOK = """
window.onerror = function (message) {
  var root = document.documentElement;
  root.setAttribute("data-js-errors", (root.getAttribute("data-js-errors") || "") + message + ";");
};
"""

SCRIPT = """
(function () {
  function cellValue(row, i) {
    var cell = row.cells[i];
    if (!cell) return "";
    var v = cell.getAttribute("data-v");
    return v !== null ? parseFloat(v) : cell.textContent.trim().toLowerCase();
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, i) {
      th.classList.add("sortable");
      th.title = "sort";
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var down = th.getAttribute("data-dir") !== "desc";
        rows.sort(function (a, b) {
          var x = cellValue(a, i), y = cellValue(b, i);
          if (x === y) return 0;
          return (x < y ? -1 : 1) * (down ? -1 : 1);
        });
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("data-dir"); });
        th.setAttribute("data-dir", down ? "desc" : "asc");
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var only = document.getElementById("only-dropping");
  if (only) {
    only.addEventListener("change", function () {
      document.querySelectorAll("tr.nodrop").forEach(function (r) {
        r.classList.toggle("hidden", only.checked);
      });
    });
  }
  document.documentElement.setAttribute("data-js", "ready");
})();
"""
