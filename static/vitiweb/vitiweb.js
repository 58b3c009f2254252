// Vitiweb's page behaviour: small, no inline handlers (the CSP allows only our own scripts).
(function () {
  "use strict";
  var root = document.documentElement;
  var stored = null;
  try { stored = localStorage.getItem("vitiweb-theme"); } catch (e) { /* storage may be blocked */ }
  if (stored === "dark" || stored === "light") root.dataset.theme = stored;

  // Filter forms send only the filters in use, so shared URLs stay short and readable.
  document.addEventListener("htmx:configRequest", function (event) {
    var data = event.detail.formData;
    if (!data || event.detail.verb !== "get") return;
    Array.from(data.keys()).forEach(function (key) {
      if (data.getAll(key).every(function (value) { return value === ""; })) data.delete(key);
    });
    // Controls at their default (sort order, page size) say nothing worth keeping in the URL.
    document.querySelectorAll("[data-default][name]").forEach(function (control) {
      if (data.get(control.name) === control.dataset.default) data.delete(control.name);
    });
  });

  // One polite live region for the page. It is told short sentences (a count, what changed), never
  // a whole region, and never moves focus: an operator hears the news and stays where they are.
  var announcer = document.createElement("p");
  announcer.id = "announcer";
  announcer.className = "visually-hidden";
  announcer.setAttribute("aria-live", "polite");
  announcer.setAttribute("aria-atomic", "true");
  document.body.appendChild(announcer);
  var announceTimer = null;
  function announce(text) {
    clearTimeout(announceTimer);
    announcer.textContent = "";
    // Emptied first, so the same sentence said twice is heard twice.
    announceTimer = setTimeout(function () { announcer.textContent = text; }, 150);
  }
  window.vitiwebAnnounce = announce;

  // A region marked data-announce="<selectors>" says the text of those parts when a swap changes it
  // (the result count of a filtered list, the progress of a run), instead of being read out whole.
  function summaryOf(region) {
    if (!region || !region.dataset || !region.dataset.announce) return null;
    return Array.from(region.querySelectorAll(region.dataset.announce)).map(function (part) {
      return part.textContent.replace(/\s+/g, " ").trim();
    }).join(". ");
  }
  var summaries = {};
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id) summaries[target.id] = summaryOf(target);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    var region = target && target.id ? document.getElementById(target.id) : null;
    var summary = summaryOf(region);
    if (summary && summary !== summaries[region.id]) announce(summary);
    if (region) delete summaries[region.id];
  });

  // Tabs swapped through htmx: mark the shown one.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "tab-panel") {
      var active = event.detail.target.querySelector("[data-active-tab]");
      var key = active ? active.dataset.activeTab : null;
      document.querySelectorAll(".tabs [data-tab]").forEach(function (tab) {
        if (tab.dataset.tab === key) tab.setAttribute("aria-current", "page");
        else tab.removeAttribute("aria-current");
      });
    }
  });

  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.dataset.copy);
      if (!source) return;
      var text = source.textContent;
      var done = function () {
        var label = copy.textContent;
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
      } else {
        selectText(source);
        try { if (document.execCommand("copy")) done(); } catch (e) { /* the selection stays for Ctrl+C */ }
      }
      return;
    }
    if (event.target.closest("[data-theme-toggle]")) {
      var dark = root.dataset.theme ? root.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
      root.dataset.theme = dark ? "light" : "dark";
      try { localStorage.setItem("vitiweb-theme", root.dataset.theme); } catch (e) { /* ignore */ }
      document.dispatchEvent(new CustomEvent("vitiweb:theme"));
      return;
    }
    var navToggle = event.target.closest("[data-nav-toggle]");
    if (navToggle) {
      var open = document.body.classList.toggle("nav-open");
      navToggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
  });

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // "/" jumps to the search box, as in most consoles.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.target.isContentEditable) return;
    var search = document.getElementById("global-search");
    if (search) { event.preventDefault(); search.focus(); search.select(); }
  });
})();
