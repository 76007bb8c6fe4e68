// The test site's own script: marks the page as ready and, on the eager (not lazy) page,
// draws the charts found in the HTML at once, the way the seed's pages did.
(function () {
  "use strict";
  var ready = function () {
    document.documentElement.setAttribute("data-site-ready", "yes");
    var charts = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < charts.length; i++) {
      if (typeof window.Chart === "function") {
        new window.Chart(charts[i], JSON.parse(charts[i].getAttribute("data-chart")));
      }
    }
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
