// The Incidents pages: a running redrive's progress refreshes itself from its JSON view, and the
// page reloads once when it finishes, so that its other figures and the history catch up.
(function () {
  "use strict";
  var INTERVAL_MS = 2000;

  function show(block, data) {
    ["done", "total"].forEach(function (name) {
      var field = block.querySelector("[data-field=" + name + "]");
      if (field) field.textContent = data[name];
    });
    var status = block.querySelector("[data-field=status]");
    if (status) status.textContent = data.running ? "running" : "finished";
    var bar = block.querySelector("progress");
    if (bar) {
      bar.max = Math.max(data.total, 1);
      bar.value = data.total ? data.done : (data.running ? 0 : 1);
    }
    block.dataset.running = data.running ? "1" : "0";
  }

  function poll(block) {
    fetch(block.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (!data.exists) return;
        show(block, data);
        if (data.running) window.setTimeout(poll, INTERVAL_MS, block);
        else window.location.reload();
      })
      .catch(function () {
        window.setTimeout(poll, INTERVAL_MS * 5, block); // the server may be restarting
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-progress-url][data-running='1']").forEach(function (block) {
      window.setTimeout(poll, INTERVAL_MS, block);
    });
  });
})();
