// The topology explorer: draws the server's figure, opens a node's side panel through htmx,
// expands collapsed groups, and re-fetches the figure when the fleet changes.
//
// Live hook: anything that dispatches `vitiweb:objects-changed` on <body> (the websocket client)
// makes this page re-fetch its figure from `data-figure-url`; the side panel and the tables
// re-fetch themselves through their own hx-trigger on the same event.
(function () {
  "use strict";

  var element, figureUrl, pending;

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.body).getPropertyValue(name).trim();
    return value || fallback;
  }

  function themed(figure) {
    var fg = cssVar("--fg", "#1c2330"), muted = cssVar("--muted", "#5b6576");
    var layout = Object.assign({}, figure.layout || {});
    layout.font = Object.assign({}, layout.font || {}, { color: fg });
    layout.legend = Object.assign({}, layout.legend || {}, { font: { color: muted, size: 11 } });
    // Keep the operator's zoom and pan across live refreshes of the same picture.
    layout.uirevision = figureUrl.split("?")[0] + "|" + (new URL(figureUrl, location.href).searchParams.getAll("expand").join(","));
    var data = (figure.data || []).map(function (trace) {
      if (trace.mode === "text") {
        return Object.assign({}, trace, { textfont: Object.assign({}, trace.textfont || {}, { color: muted }) });
      }
      if (trace.customdata) {
        return Object.assign({}, trace, { textfont: Object.assign({}, trace.textfont || {}, { color: fg }) });
      }
      return trace;
    });
    return { data: data, layout: layout };
  }

  function draw(figure) {
    var empty = document.getElementById("topology-empty");
    var meta = figure.meta || {};
    if (empty) {
      empty.hidden = !meta.empty;
      empty.textContent = meta.empty || "";
    }
    fillPicker(figure);
    element.dataset.nodes = meta.nodes || 0;
    element.dataset.edges = meta.edges || 0;
    var themedFigure = themed(figure);
    return window.Plotly.react(element, themedFigure.data, themedFigure.layout, {
      displaylogo: false, responsive: true, scrollZoom: true,
      modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
    }).then(function () {
      element.dataset.drawn = "true";
      document.body.dispatchEvent(new CustomEvent("vitiweb:topology-drawn", { detail: meta }));
    });
  }

  function refetch() {
    pending = null;
    return fetch(figureUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("figure: HTTP " + response.status);
        return response.json();
      })
      .then(draw)
      .catch(function (error) { element.dataset.error = String(error); });
  }

  function schedule() {
    if (pending) clearTimeout(pending);
    pending = setTimeout(refetch, 400);
  }

  function withExpanded(url, key) {
    var parsed = new URL(url, location.href);
    var keys = parsed.searchParams.getAll("expand");
    if (keys.indexOf(key) === -1) parsed.searchParams.append("expand", key);
    return parsed.pathname + parsed.search;
  }

  // Labels are escaped HTML with <br> and <span> for Plotly; an inert document turns them to text.
  function plain(html) {
    return new DOMParser().parseFromString(String(html || ""), "text/html").body.textContent.trim();
  }

  // The picker lists every node the picture draws (name, state), so a keyboard or a screen reader
  // reaches what a mouse clicks.
  function fillPicker(figure) {
    var form = document.getElementById("topology-pick");
    var select = document.getElementById("topology-node");
    if (!form || !select) return;
    var kept = select.value;
    var options = [];
    (figure.data || []).forEach(function (trace) {
      (trace.customdata || []).forEach(function (custom, index) {
        var hover = Array.isArray(trace.hovertext) ? trace.hovertext[index] : "";
        var option = document.createElement("option");
        option.value = JSON.stringify(custom);
        option.textContent = plain(String(hover).split("<br>")[0]) + " (" + trace.name + ")" + (custom[1] ? ", expands" : "");
        options.push(option);
      });
    });
    options.sort(function (a, b) { return a.textContent.localeCompare(b.textContent); });
    select.replaceChildren.apply(select, options);
    if (kept) select.value = kept;
    form.hidden = options.length === 0;
  }

  function openNode(custom, byKeyboard) {
    var panelUrl = custom[0], expand = custom[1];
    if (expand) {
      figureUrl = withExpanded(figureUrl, expand);
      element.dataset.figureUrl = figureUrl;
      history.replaceState(history.state, "", withExpanded(location.pathname + location.search, expand));
      refetch().then(function () {
        if (byKeyboard && window.vitiwebAnnounce) {
          window.vitiwebAnnounce("Expanded: " + element.dataset.nodes + " nodes in the picture.");
        }
      });
      return;
    }
    if (panelUrl && window.htmx) {
      focusPanel = true;
      window.htmx.ajax("GET", panelUrl, { target: "#side-panel", swap: "innerHTML" });
    }
  }

  function onClick(event) {
    var point = event.points && event.points[0];
    if (point && point.customdata) openNode(point.customdata, false);
  }

  // A panel the operator asked for takes the focus (its heading is read, its links come next);
  // one that refreshes itself on a live update leaves the focus where it is.
  var focusPanel = false;
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!focusPanel || !event.detail.target || event.detail.target.id !== "side-panel") return;
    focusPanel = false;
    var panel = document.getElementById("side-panel");
    var heading = panel.querySelector("h2") || panel;
    heading.tabIndex = -1;
    heading.focus();
  });

  function start() {
    element = document.getElementById("topology-figure");
    if (!element || !window.Plotly) return;
    figureUrl = element.dataset.figureUrl;
    var source = document.getElementById(element.dataset.figureSource);
    var initial = source ? JSON.parse(source.textContent) : null;
    (initial ? draw(initial) : refetch()).then(function () {
      element.on("plotly_click", onClick);
    });
    var pick = document.getElementById("topology-pick");
    if (pick) {
      pick.addEventListener("submit", function (event) {
        event.preventDefault();
        var value = document.getElementById("topology-node").value;
        if (value) openNode(JSON.parse(value), true);
      });
    }
    document.body.addEventListener("vitiweb:objects-changed", schedule);
    document.addEventListener("vitiweb:theme", function () { refetch(); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
