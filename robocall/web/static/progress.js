// Follows long work done by the worker (an import, an export); reloads the page when it ends.
// The box carries data-progress-url and data-running ("{done} of {total}"-style text).
(function () {
  var box = document.getElementById("work-status");
  if (!box) return;
  var url = box.dataset.progressUrl;
  var finished = ["done", "refused", "failed"];
  function poll() {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (finished.indexOf(s.state) >= 0) { window.location.reload(); return; }
        if (s.state === "running") {
          box.querySelector(".state-text").textContent = box.dataset.running.replace(
            /\{(\w+)\}/g, function (m, k) { return k in s ? s[k] : m; });
          var bar = box.querySelector(".progress > span");
          if (bar && s.total) bar.style.width = Math.round(100 * s.done / s.total) + "%";
        }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
