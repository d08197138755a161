// A campaign's page: its progress every 2 s without reloading; once it has ended (or changed
// status, so the buttons offered change) the page reloads once.
(function () {
  var box = document.getElementById("campaign-progress");
  if (!box) return;
  var url = box.dataset.progressUrl;
  var words = JSON.parse(box.dataset.statuses || "{}");
  var status = document.getElementById("campaign-status");
  var shown = status.dataset.status;
  function set(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = value;
  }
  function poll() {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        set("campaign-done", p.done);
        set("campaign-targets", p.targets);
        set("campaign-reached", p.reached);
        set("campaign-reached-percent", p.reached_percent);
        set("campaign-sms", (p.sms_by_state && p.sms_by_state.sent) || 0);
        set("campaign-eta", p.eta_seconds ? Math.round(p.eta_seconds) + " s" : "—");
        var bar = document.getElementById("campaign-bar");
        if (bar && p.targets) bar.style.width = Math.round(100 * p.done / p.targets) + "%";
        if (p.status !== shown) {
          status.textContent = words[p.status] || p.status;
          status.dataset.status = p.status;
          shown = p.status;
          if (p.status === "completed" || p.status === "cancelled") {
            var buttons = box.querySelectorAll("form.inline");
            for (var i = 0; i < buttons.length; i++) buttons[i].remove();
            return;
          }
        }
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 4000); });
  }
  if (["completed", "cancelled"].indexOf(shown) < 0) setTimeout(poll, 2000);
})();
