/* Charts of the results pages (Apache ECharts, vendored). Data and labels come from
   json_script blocks the server rendered in the user's language; nothing is fetched.

   Names in the data (departments, cycles) are what HR typed in the admin or imported, so they
   are text, never markup: tooltips are DOM nodes whose text is set with textContent, and no
   string built from data reaches innerHTML. Built as nodes they also carry no style attribute,
   which the Content-Security-Policy refuses (ECharts' own tooltip HTML has them); colours are
   set through the CSSOM, which it allows. */
(function () {
  "use strict";
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  var labels = data("chart-labels") || {};
  var charts = [];

  // An element holding `text` as text; `text` is never parsed as HTML.
  function textNode(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined && text !== null) el.textContent = String(text);
    return el;
  }

  function trendTooltip(params) {
    var box = textNode("div");
    if (!params.length) return box;
    box.appendChild(textNode("div", "fw-semibold", params[0].axisValueLabel));
    params.forEach(function (p) {
      var row = textNode("div");
      var marker = textNode("span", "icr-tooltip-marker");
      if (typeof p.color === "string") marker.style.backgroundColor = p.color;
      row.appendChild(marker);
      row.appendChild(textNode("span", null, p.seriesName + ": "));
      var shown = typeof p.value === "number" && !isNaN(p.value);  // null: no figure
      row.appendChild(textNode("strong", null, shown ? p.value : "-"));
      box.appendChild(row);
    });
    return box;
  }

  function trend(elementId, dataId) {
    var el = document.getElementById(elementId);
    var d = data(dataId);
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
      tooltip: { trigger: "axis", className: "icr-tooltip", formatter: trendTooltip },
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
        className: "icr-tooltip",
        formatter: function (p) {
          var v = p.value[2] === "-" ? labels.not_enough : p.value[2];
          return textNode("div", null,
                          d.providers[p.value[1]] + " → " + d.customers[p.value[0]] + ": " + v);
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

  trend("trend-chart", "trend-data");
  trend("handoff-trend-chart", "handoff-trend-data");
  heatmap();
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  window.icrCharts = charts;
})();
