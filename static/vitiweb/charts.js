// Draws the Plotly figures a page carries as JSON (json_script): data never passes through HTML.
(function () {
  "use strict";

  function colours() {
    var style = getComputedStyle(document.body);
    return { fg: style.getPropertyValue("--fg").trim(), muted: style.getPropertyValue("--muted").trim(),
             grid: style.getPropertyValue("--border").trim() };
  }

  function themed(layout) {
    var c = colours();
    var result = Object.assign({}, layout, {
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: c.fg, family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12 },
      colorway: ["#3b6fd8", "#2e9e5b", "#d08a1a", "#d2453a", "#8a5cd0", "#1b9aaa", "#8792a2"],
    });
    ["xaxis", "yaxis"].forEach(function (axis) {
      result[axis] = Object.assign({ gridcolor: c.grid, zerolinecolor: c.grid, linecolor: c.grid, automargin: true },
                                   layout[axis] || {});
    });
    return result;
  }

  function isEmpty(figure) {
    return !figure.data.some(function (trace) {
      return (trace.x && trace.x.length) || (trace.y && trace.y.length) || (trace.values && trace.values.length);
    });
  }

  function draw(scope) {
    if (!window.Plotly) return;
    (scope || document).querySelectorAll(".chart[data-figure]").forEach(function (element) {
      var source = document.getElementById(element.dataset.figure);
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      if (isEmpty(figure)) {
        element.classList.add("chart-empty");
        element.textContent = "No data yet.";
        return;
      }
      window.Plotly.react(element, figure.data, themed(figure.layout || {}),
                          { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] });
      element.dataset.drawn = "true";
      // A bar opens the list of the rows it counts (its URL is the point's customdata).
      if (!element.dataset.linked) {
        element.dataset.linked = "true";
        element.on("plotly_click", function (event) {
          var url = event.points && event.points[0] && event.points[0].customdata;
          if (typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/") window.location.assign(url);
        });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
  document.addEventListener("vitiweb:theme", function () { draw(); });
  document.addEventListener("vitiweb:region-swapped", function (event) { draw(event.detail.target); });
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () { draw(); });
  }
})();
