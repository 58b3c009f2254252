// Live updates: the websocket (htmx's ws extension) swaps fresh regions into the page;
// this file shows the connection state and tells self-drawing parts (charts, topology) to refresh.
(function () {
  "use strict";
  if (window.htmx) {
    // Reconnect within seconds, not the extension's default of up to a minute.
    window.htmx.config.wsReconnectDelay = function (retries) {
      return Math.min(5000, 500 * Math.pow(2, retries)) * (0.5 + Math.random() / 2);
    };
  }

  function setState(state, text) {
    var status = document.getElementById("live-status");
    if (!status) return;
    status.dataset.state = state;
    status.querySelector(".live-text").textContent = text;
    document.body.classList.toggle("live-down", state === "down");
  }

  document.addEventListener("htmx:wsConnecting", function () { setState("connecting", "Connecting to live updates…"); });
  document.addEventListener("htmx:wsOpen", function () { setState("up", "Live"); });
  document.addEventListener("htmx:wsClose", function () {
    setState("down", "Live updates disconnected — reconnecting…");
  });
  document.addEventListener("htmx:wsError", function () {
    setState("down", "Live updates disconnected — reconnecting…");
  });

  // What a push changed is said in one short polite sentence naming the regions, not by reading
  // them out again (they are not live regions themselves). Ages ("3 minutes ago") tick on every
  // push and are not news.
  function factsOf(region) {
    var copy = region.cloneNode(true);
    copy.querySelectorAll("time, script").forEach(function (part) { part.remove(); });
    return copy.textContent.replace(/\s+/g, " ").trim();
  }
  function nameOf(region) {
    var label = region.getAttribute("aria-label");
    var labelledBy = region.getAttribute("aria-labelledby");
    var heading = region.querySelector("h1, h2, h3, caption");
    if (!label && labelledBy && document.getElementById(labelledBy)) label = document.getElementById(labelledBy).textContent;
    return (region.dataset.liveName || label || (heading && heading.textContent) || region.id).trim();
  }
  // Only what the socket pushes is news; out-of-band parts of a page's own answers (the editor's
  // field errors) are not, and the socket's messages are swapped between these two events.
  var before = {}, changed = [], quiet = null, fromSocket = false;
  document.addEventListener("htmx:wsBeforeMessage", function () { fromSocket = true; });
  document.addEventListener("htmx:wsAfterMessage", function () { fromSocket = false; });
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (fromSocket && target && target.id && target.id !== "live-signal") before[target.id] = factsOf(target);
  });
  function noteChange(target) {
    var region = document.getElementById(target.id) || target;
    if (!(target.id in before)) return;
    var was = before[target.id];
    delete before[target.id];
    if (was === factsOf(region)) return;
    var name = nameOf(region);
    if (changed.indexOf(name) === -1) changed.push(name);
    clearTimeout(quiet);
    quiet = setTimeout(function () {
      if (window.vitiwebAnnounce) window.vitiwebAnnounce("Updated: " + changed.join(", ") + ".");
      changed = [];
    }, 1000);
  }

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target) return;
    if (target.id === "live-signal") {
      var marker = target.querySelector("[data-kinds]");
      document.body.dispatchEvent(new CustomEvent("vitiweb:objects-changed", {
        detail: { kinds: marker && marker.dataset.kinds ? marker.dataset.kinds.split(",") : [] },
      }));
    } else {
      noteChange(target);
      document.dispatchEvent(new CustomEvent("vitiweb:region-swapped", { detail: { target: target } }));
    }
  });
})();
