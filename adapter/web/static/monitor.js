// Re-fetch the monitor's live block every few seconds (plain fetch; no framework).
(function () {
  var live = document.getElementById("live");
  if (!live) return;
  var every = parseInt(live.dataset.every || "5000", 10);
  function refresh() {
    fetch(live.dataset.src, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (reply) {
        if (reply.redirected || !reply.ok) return null;  // signed out or expired: stop quietly
        return reply.text();
      })
      .then(function (html) {
        if (html !== null) { live.innerHTML = html; setTimeout(refresh, every); }
      })
      .catch(function () { setTimeout(refresh, every * 2); });
  }
  setTimeout(refresh, every);
})();
