// The leaderboard page's only script (table sorting, drawing the figures); render.py inlines it into index.html.
(function () {
  "use strict";
  // Sort the ranking table by the clicked column; empty cells always sink to the bottom.
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    heads.forEach(function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var current = th.getAttribute("aria-sort");
        var first = (th.dataset.type === "text" || th.dataset.order === "asc") ? "ascending" : "descending";
        var dir = current === "ascending" ? "descending" : current === "descending" ? "ascending" : first;
        var sign = dir === "ascending" ? 1 : -1;
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
          if (x === "" || y === "") { return (x === "") - (y === ""); }
          if (th.dataset.type === "num") { return sign * (parseFloat(x) - parseFloat(y)); }
          return sign * x.localeCompare(y);
        });
        rows.forEach(function (row) { body.appendChild(row); });
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
      });
    });
  });
  // Draw every figure from the one JSON block; a failing figure says so in place and in the console.
  var data = document.getElementById("figure-data");
  if (!data || typeof Plotly === "undefined") { return; }
  var figs = JSON.parse(data.textContent);
  var config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
  Object.keys(figs).forEach(function (id) {
    var div = document.getElementById(id);
    try {
      Plotly.newPlot(div, figs[id].data, figs[id].layout, config);
    } catch (err) {
      div.textContent = "This plot could not be drawn: " + err;
      div.className += " plot-error";
      console.error(err);
    }
  });
})();
