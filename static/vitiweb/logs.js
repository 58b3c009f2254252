// Controller logs: text filter, follow over the websocket, scroll to the newest line.
// Lines from the cluster are untrusted: they are only ever set as textContent.
(function () {
  "use strict";
  var socket = null;

  function lines() { return document.getElementById("log-lines"); }

  function matches(li, text) {
    return !text || li.textContent.toLowerCase().indexOf(text) !== -1;
  }

  function applyFilter() {
    var input = document.getElementById("log-filter");
    var list = lines();
    if (!input || !list) return;
    var text = input.value.toLowerCase();
    Array.prototype.forEach.call(list.children, function (li) { li.hidden = !matches(li, text); });
  }

  function append(entries) {
    var list = lines();
    if (!list) return;
    var input = document.getElementById("log-filter");
    var text = input ? input.value.toLowerCase() : "";
    var atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 20;
    entries.forEach(function (entry) {
      var li = document.createElement("li");
      li.className = "log-line" + (entry.level ? " level-" + entry.level : "");
      li.textContent = entry.text;
      li.hidden = !matches(li, text);
      list.appendChild(li);
    });
    while (list.children.length > 10000) list.removeChild(list.firstChild);
    var empty = document.getElementById("log-empty");
    if (empty) empty.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function state(text) {
    var el = document.getElementById("log-state");
    if (el) el.textContent = text;
  }

  function stop(button) {
    if (socket) { socket.close(); socket = null; }
    if (button) { button.setAttribute("aria-pressed", "false"); button.textContent = "Follow live"; }
  }

  function follow(button) {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + button.dataset.socketUrl;
    socket = new WebSocket(url);
    button.setAttribute("aria-pressed", "true");
    button.textContent = "Stop following";
    var first = true;
    socket.onopen = function () { state("Following live…"); };
    socket.onmessage = function (message) {
      var data = JSON.parse(message.data);
      if (first) { lines().textContent = ""; first = false; }  // the stream starts with the same last lines
      append(data.lines || []);
      if (data.end) { state("Stream ended: " + data.end); stop(button); }
    };
    socket.onclose = function (event) {
      if (socket && event.code >= 4000) state("Not allowed to follow this log (" + event.code + ")");
      if (socket) stop(button);
    };
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("#log-follow");
    if (!button) return;
    if (socket) stop(button); else follow(button);
  });
  document.addEventListener("input", function (event) {
    if (event.target.id === "log-filter") applyFilter();
  });
  document.addEventListener("change", function (event) {
    // A new deployment or pod means new choices below it: let the server pick them.
    if (event.target.id === "l-deployment" || event.target.id === "l-pod") {
      var form = event.target.form;
      if (event.target.id === "l-deployment") { form.elements.pod.value = ""; }
      form.elements.container.value = "";
      form.submit();
    }
  });
  window.addEventListener("pagehide", function () { stop(null); });
  document.addEventListener("DOMContentLoaded", function () {
    var list = lines();
    if (list) list.scrollTop = list.scrollHeight;
  });
})();
