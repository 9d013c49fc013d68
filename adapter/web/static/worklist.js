// Work lists: arrow keys move between rows, Enter opens the row's stay, the filter box narrows
// the rows as the clerk types (the server-side filter works without this script too).
(function () {
  "use strict";
  document.querySelectorAll("[data-worklist]").forEach(function (table) {
    var rows = function () {
      return Array.prototype.filter.call(table.querySelectorAll("tbody tr[data-href]"), function (r) {
        return !r.hidden;
      });
    };
    table.addEventListener("keydown", function (event) {
      var list = rows();
      var at = list.indexOf(document.activeElement);
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        var next = list[Math.max(0, Math.min(list.length - 1, at + (event.key === "ArrowDown" ? 1 : -1)))];
        if (next) { next.focus(); event.preventDefault(); }
      } else if (event.key === "Enter" && at >= 0) {
        window.location.href = list[at].dataset.href;
        event.preventDefault();
      }
    });
    // From the page's search box (focused first), ↓ goes into the list.
    [document.getElementById("q"), document.getElementById(table.dataset.worklist)].forEach(function (box) {
      if (box) {
        box.addEventListener("keydown", function (event) {
          if (event.key === "ArrowDown") {
            var first = rows()[0];
            if (first) { first.focus(); event.preventDefault(); }
          }
        });
      }
    });
    var filter = document.getElementById(table.dataset.worklist);
    if (filter) {
      filter.addEventListener("input", function () {
        var text = filter.value.trim();
        table.querySelectorAll("tbody tr[data-href]").forEach(function (r) {
          r.hidden = text !== "" && r.textContent.indexOf(text) < 0;
        });
      });
    }
  });
})();
