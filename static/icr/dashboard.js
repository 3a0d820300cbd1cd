/* Charts of the results pages (Apache ECharts, vendored). Data and labels come from
   json_script blocks the server rendered in the user's language; nothing is fetched. */
(function () {
  "use strict";
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  var labels = data("chart-labels") || {};
  var charts = [];

  function trend() {
    var el = document.getElementById("trend-chart");
    var d = data("trend-data");
    if (!el || !d || typeof echarts === "undefined") return;
    var chart = echarts.init(el);
    var series = d.series.map(function (s) {
      return { name: s.name, type: "line", data: s.data, connectNulls: false, yAxisIndex: 0 };
    });
    if (d.response) {
      series.push({ name: labels.response, type: "bar", data: d.response, yAxisIndex: 1,
                    itemStyle: { opacity: 0.25 } });
    }
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 40, right: 40, top: 20, bottom: 50 },
      xAxis: { type: "category", data: d.cycles },
      yAxis: [{ type: "value", min: 1, max: 5, name: labels.mean },
              { type: "value", min: 0, max: 100, show: !!d.response }],
      series: series
    });
    charts.push(chart);
  }

  function heatmap() {
    var el = document.getElementById("heatmap-chart");
    var d = data("heatmap-data");
    if (!el || !d || typeof echarts === "undefined") return;
    var chart = echarts.init(el);
    var cells = d.cells.map(function (c) { return [c[0], c[1], c[2] === null ? "-" : c[2]]; });
    chart.setOption({
      tooltip: {
        formatter: function (p) {
          var v = p.value[2] === "-" ? labels.not_enough : p.value[2];
          return d.providers[p.value[1]] + " → " + d.customers[p.value[0]] + ": " + v;
        }
      },
      grid: { left: 90, right: 10, top: 10, bottom: 90, containLabel: false },
      xAxis: { type: "category", data: d.customers, name: labels.customer,
               axisLabel: { rotate: 40, interval: 0 } },
      yAxis: { type: "category", data: d.providers, name: labels.provider,
               axisLabel: { interval: 0 } },
      visualMap: { min: 1, max: 5, calculable: true, orient: "horizontal", left: "center",
                   bottom: 0, itemHeight: 80, inRange: { color: ["#d73027", "#fee08b", "#1a9850"] },
                   outOfRange: { color: "#ccc" } },
      series: [{ type: "heatmap", data: cells, label: { show: true },
                 itemStyle: { borderColor: "#fff", borderWidth: 1 } }]
    });
    charts.push(chart);
  }

  trend();
  heatmap();
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  window.icrCharts = charts;
})();
