// Follows an import's progress; reloads the page when the import has finished.
(function () {
  var box = document.getElementById("import-status");
  if (!box) return;
  var url = box.dataset.progressUrl;
  function poll() {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.state === "done" || s.state === "refused") { window.location.reload(); return; }
        var text = box.querySelector(".state-text");
        var bar = box.querySelector(".progress > span");
        if (s.state === "running") {
          text.textContent = box.dataset.running.replace("{done}", s.done).replace("{total}", s.total);
          if (s.total) bar.style.width = Math.round(100 * s.done / s.total) + "%";
        }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
