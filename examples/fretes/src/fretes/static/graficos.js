/* fretes: draw every <canvas data-grafico="{Chart.js config}"> at once, when the page is parsed.
   The eager form of the charts (FRETES_ASSETS=pipeline or plain), kept to be measured against:
   with FRETES_ASSETS=lazy turbina-lazy.js draws them only when they come into view. */
(function () {
  "use strict";
  function draw() {
    var canvases = document.querySelectorAll("canvas[data-grafico]");
    for (var i = 0; i < canvases.length; i++) {
      new window.Chart(canvases[i], JSON.parse(canvases[i].getAttribute("data-grafico")));
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
