/* A stand-in chart library with Chart.js's constructor shape: new Chart(canvas, config).
   It counts how often it was loaded and how many charts it drew, for the tests. */
(function () {
  "use strict";
  window.fakeChartLoads = (window.fakeChartLoads || 0) + 1;
  window.fakeChartsDrawn = window.fakeChartsDrawn || 0;
  function Chart(canvas, config) {
    var values = (config.data && config.data.datasets && config.data.datasets[0].data) || [];
    var context = canvas.getContext("2d");
    var width = canvas.width, height = canvas.height, top = Math.max.apply(null, values.concat([1]));
    context.fillStyle = "#0b69a3";
    values.forEach(function (value, index) {
      var bar = (value / top) * height;
      context.fillRect(index * (width / values.length), height - bar, width / values.length - 2, bar);
    });
    canvas.setAttribute("data-drawn", String(values.length));
    window.fakeChartsDrawn += 1;
    this.config = config;
  }
  window.Chart = Chart;
})();
