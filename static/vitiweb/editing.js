// The manifest editor's small behaviours: errors at their fields, naming and suggestion
// helpers, the provider-type switch. Everything else is htmx; no inline script (CSP).
(function () {
  "use strict";

  function byName(name) {
    // The nearest element for a form name: the field itself, or the group that holds it.
    var parts = name.split(".");
    while (parts.length) {
      var key = parts.join(".");
      var el = document.getElementById("f-" + key) ||
        document.querySelector('[data-path="' + CSS.escape(key) + '"]');
      if (el) return el;
      parts.pop();
    }
    return null;
  }

  function applyLiveErrors() {
    var form = document.getElementById("manifest-form");
    if (!form) return;
    form.querySelectorAll(".field-error[data-live]").forEach(function (el) { el.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    form.querySelectorAll(".invalid").forEach(function (el) { el.classList.remove("invalid"); });
    ["field-errors", "api-errors"].forEach(function (id) {
      var container = document.getElementById(id);
      if (!container) return;
      container.querySelectorAll("[data-for]").forEach(function (entry) {
        var target = byName(entry.getAttribute("data-for"));
        if (!target) return;
        var holder = target.matches("input, select, textarea") ? target.closest(".field") : target;
        if (!holder) return;
        holder.classList.add("invalid");
        if (target.matches("input, select, textarea")) target.setAttribute("aria-invalid", "true");
        var message = document.createElement("p");
        message.className = "field-error";
        message.setAttribute("data-live", "");
        message.textContent = entry.textContent;
        var anchor = holder.matches("fieldset, .repeat, .item") ? holder.querySelector(":scope > legend, :scope > .repeat-head, :scope > .item-head") : null;
        if (anchor) anchor.after(message); else holder.appendChild(message);
      });
    });
  }

  function showVariant() {
    var select = document.querySelector("[data-variant-select]");
    if (!select) return;
    var chosen = select.value, any = false;
    document.querySelectorAll(".variant[data-variant]").forEach(function (block) {
      var filled = Array.prototype.some.call(block.querySelectorAll("input:not([type=hidden]), select, textarea"), function (el) { return el.value !== ""; });
      var show = block.getAttribute("data-variant") === chosen || filled;
      block.hidden = !show;
      if (block.getAttribute("data-variant") === chosen) any = true;
    });
    var none = document.querySelector("[data-variant-none]");
    if (none) none.hidden = any || !chosen;
  }

  function renderOffers() {
    // Suggestions for one-per-line fields: chips that append a line.
    document.querySelectorAll(".offers[data-datalist]").forEach(function (box) {
      var list = document.getElementById(box.getAttribute("data-datalist"));
      var field = document.getElementById(box.getAttribute("data-offers-for"));
      box.replaceChildren();
      if (!list || !field) return;
      var present = field.value.split("\n").map(function (s) { return s.trim(); });
      list.querySelectorAll("option").forEach(function (option) {
        if (present.indexOf(option.value) !== -1) return;
        var chip = document.createElement("button");
        chip.type = "button";
        chip.className = "ghost";
        chip.textContent = "+ " + option.value;
        chip.setAttribute("data-append-to", field.id);
        chip.setAttribute("data-append-value", option.value);
        box.appendChild(chip);
      });
    });
  }

  function changed(field) {
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.addEventListener("click", function (event) {
    var fill = event.target.closest("[data-fill-id]");
    if (fill) {
      var target = document.getElementById(fill.getAttribute("data-fill-id"));
      if (target) { target.value = fill.getAttribute("data-fill-value"); changed(target); target.focus(); }
      return;
    }
    var append = event.target.closest("[data-append-to]");
    if (append) {
      var field = document.getElementById(append.getAttribute("data-append-to"));
      if (field) {
        field.value = (field.value.trim() ? field.value.replace(/\s+$/, "") + "\n" : "") + append.getAttribute("data-append-value");
        changed(field);
        renderOffers();
      }
      return;
    }
    var go = event.target.closest("[data-goto]");
    if (go) {
      var el = byName(go.getAttribute("data-goto"));
      if (el) {
        event.preventDefault();
        var hidden = el.closest(".variant[hidden]");
        if (hidden) hidden.hidden = false;
        el.scrollIntoView({ block: "center", behavior: "smooth" });
        if (el.focus) el.focus({ preventScroll: true });
      }
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy && navigator.clipboard) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (source) navigator.clipboard.writeText(source.textContent).then(function () { copy.textContent = "Copied"; });
    }
  });

  // htmx sends the requests of the editor's buttons; the browser must not also submit the form.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "manifest-form") return;
    event.preventDefault();
    var submitter = event.submitter;
    if (!submitter || !submitter.hasAttribute("hx-post")) htmx.trigger(form, "refresh-preview");
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-variant-select]")) showVariant();
  });

  // Form actions and the live preview. Only the preview syncs on the form (hx-sync
  // "this:replace", not inherited: hx-disinherit), so a preview fired after a click never
  // aborts the click's request. Adding or removing an item re-renders the sections, so while
  // one is on its way: another action clicked waits for it and is then sent from the new form,
  // and what the operator types meanwhile is carried into the new sections, focus included.
  // (Those buttons settle at once, "settle:0ms": no moment where the new buttons are in the
  // page but not yet live.)
  var reshaping = null; // {elt, sent: {id: value}, edited: {id: value}, focus: id} of the add/remove in flight
  var waiting = []; // [name, value] of the actions clicked while it was on its way

  function reshapes(elt) {
    return elt && (elt.name === "_add" || elt.name === "_remove") && Boolean(elt.closest("#manifest-form"));
  }

  function sectionValues() {
    var values = {};
    document.querySelectorAll("#form-sections [id^='f-']").forEach(function (el) { values[el.id] = el.value; });
    return values;
  }

  function requestElement(event) {
    // The button may be out of the page by now: htmx names it in the request's configuration.
    return event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
  }

  function finishReshaping() {
    reshaping = null;
    var next = waiting.shift();
    while (next) {
      var button = document.querySelector(
        '#manifest-form button[name="' + CSS.escape(next[0]) + '"][value="' + CSS.escape(next[1]) + '"]');
      if (button) {
        button.click();
        if (reshaping) return; // the rest wait for this one in turn
      }
      next = waiting.shift();
    }
  }

  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    if (!reshaping || !elt.matches("#manifest-form button[hx-post]")) return;
    event.preventDefault();
    waiting.push([elt.name, elt.value]);
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (reshapes(elt)) reshaping = { elt: elt, sent: sectionValues(), edited: {}, focus: null };
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!reshaping || event.detail.target.id !== "form-sections") return;
    var now = sectionValues();
    Object.keys(now).forEach(function (id) {
      if (id in reshaping.sent && now[id] !== reshaping.sent[id]) reshaping.edited[id] = now[id];
    });
    var active = document.activeElement;
    if (active && active.id && active.matches("#manifest-form input, #manifest-form select, #manifest-form textarea")) {
      reshaping.focus = active.id;
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!reshaping || event.detail.target.id !== "form-sections") return;
    Object.keys(reshaping.edited).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.value = reshaping.edited[id];
    });
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    // Normally the sections have settled by now; a failed or aborted request swapped nothing.
    if (reshaping && requestElement(event) === reshaping.elt) finishReshaping();
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    applyLiveErrors();
    renderOffers();
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "form-sections") return;
    showVariant();
    var elt = requestElement(event);
    var kept = reshaping && reshaping.focus && document.getElementById(reshaping.focus);
    if (kept) {
      kept.focus({ preventScroll: true }); // the operator was typing there
    } else if (elt && elt.name === "_add") {
      var list = document.querySelector('[data-path="' + CSS.escape(elt.value) + '"]');
      var items = list ? list.querySelectorAll(":scope > .item") : [];
      var last = items.length ? items[items.length - 1] : null;
      var input = last && last.querySelector("input:not([type=hidden]), select, textarea");
      if (input) { input.focus(); last.scrollIntoView({ block: "center" }); }
    }
    if (reshaping && elt === reshaping.elt) finishReshaping();
    // The Remove button leaves with its item: the focus goes to the list's Add button, not to the
    // top of the page, and the removal is said.
    if (elt && elt.name === "_remove") {
      var path = elt.value.replace(/\.\d+$/, "");
      var add = document.querySelector('button[name="_add"][value="' + CSS.escape(path) + '"]');
      if (add) add.focus();
      if (window.vitiwebAnnounce) window.vitiwebAnnounce("Removed " + (elt.getAttribute("aria-label") || "").replace(/^Remove /, "") + ".");
    }
  });

  document.addEventListener("DOMContentLoaded", function () { showVariant(); renderOffers(); });
})();
