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

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target) return;
    if (target.id === "live-signal") {
      var marker = target.querySelector("[data-kinds]");
      document.body.dispatchEvent(new CustomEvent("vitiweb:objects-changed", {
        detail: { kinds: marker && marker.dataset.kinds ? marker.dataset.kinds.split(",") : [] },
      }));
    } else {
      document.dispatchEvent(new CustomEvent("vitiweb:region-swapped", { detail: { target: target } }));
    }
  });
})();
