// The admin page works without this script. With it, the chart, the host
// table and the actions refresh every 15 seconds in place (the page is
// fetched again and its parts swapped), unless a button has focus.
(function () {
  "use strict";
  var parts = ["chart", "hosts", "actions", "host-summary", "queue", "attempts"];
  function refresh() {
    if (document.hidden || (document.activeElement && document.activeElement.tagName === "BUTTON")) {
      return;
    }
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (id) {
          var old = document.getElementById(id), fresh = next.getElementById(id);
          if (old && fresh) { old.replaceWith(fresh); }
        });
        var stamp = document.getElementById("refreshed");
        if (stamp) { stamp.textContent = "refreshed " + new Date().toLocaleTimeString(); }
      })
      .catch(function () { /* keep what is shown; the next tick tries again */ });
  }
  setInterval(refresh, 15000);
})();
