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

  // Lines a plain (wrapping) legend takes at this width: ECharts' scroll legend pages its
  // items (1/2, 1/3) on a phone, so the legend wraps instead and the plot starts below it.
  function legendLines(names, width) {
    var lines = 1, x = 0;
    names.forEach(function (name) {
      var w = 35;  // icon and gap
      for (var i = 0; i < name.length; i++) w += name.charCodeAt(i) > 0x2e80 ? 12 : 7;
      if (x > 0 && x + w > width - 20) { lines += 1; x = 0; }
      x += w;
    });
    return lines;
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
    var lines = legendLines(series.map(function (s) { return s.name; }), el.clientWidth);
    chart.setOption({
      tooltip: { trigger: "axis", className: "icr-tooltip", formatter: trendTooltip },
      legend: { type: "plain", top: 0, left: 0, itemGap: 10, itemWidth: 18,
                textStyle: { fontSize: 12 } },
      grid: { left: 40, right: 40, top: 30 + 22 * lines, bottom: 30 },
      xAxis: { type: "category", data: d.cycles },
      yAxis: [{ type: "value", min: 1, max: 5, name: labels.mean, nameGap: 10 },
              { type: "value", min: 0, max: 100, show: !!d.response }],
      series: series
    });
    charts.push(chart);
  }

  // The heatmap's colours; the page's legend (templates/results/department.html, .icr-swatch
  // in static/icr/icr.css) shows the same ones.
  var SCALE = ["#c0392b", "#f1c40f", "#1e8449"];
  var HIDDEN_FILL = "#eef0f3", HIDDEN_STRIPE = "#aeb6c0";

  function heatmap() {
    var el = document.getElementById("heatmap-chart");
    var d = data("heatmap-data");
    if (!el || !d || typeof echarts === "undefined") return;
    var chart = echarts.init(el);
    // Shown cells are coloured by the scale; hidden ones (null) get a grey, striped cell of
    // their own series; a pair without a relationship has no cell and stays blank.
    var shown = d.cells.filter(function (c) { return c[2] !== null; });
    var hidden = d.cells.filter(function (c) { return c[2] === null; })
      .map(function (c) { return [c[0], c[1], 0]; });
    var narrow = el.clientWidth < 520;
    chart.setOption({
      tooltip: {
        className: "icr-tooltip",
        formatter: function (p) {
          var v = p.seriesIndex === 1 ? labels.hidden : p.value[2];
          return textNode("div", null,
                          d.providers[p.value[1]] + " → " + d.customers[p.value[0]] + ": " + v);
        }
      },
      // The colour scale sits above the plot, away from the rotated customer names below it;
      // ECharts 6 keeps the axis labels inside the chart (grid.outerBounds, its default).
      grid: { left: 10, right: 10, top: 56, bottom: 10 },
      xAxis: { type: "category", data: d.customers, name: labels.customer, nameLocation: "middle",
               nameGap: 28, position: "bottom",
               axisLabel: { rotate: narrow ? 60 : 40, interval: 0, fontSize: 11 } },
      yAxis: { type: "category", data: d.providers, name: labels.provider, nameLocation: "end",
               axisLabel: { interval: 0, fontSize: 11 } },
      visualMap: { min: 1, max: 5, calculable: false, orient: "horizontal", left: "center",
                   top: 0, itemHeight: narrow ? 120 : 160, itemWidth: 12, precision: 1,
                   text: ["5", "1"], seriesIndex: 0,
                   inRange: { color: SCALE } },
      series: [
        { type: "heatmap", name: "shown", data: shown, label: { show: true },
          itemStyle: { borderColor: "#fff", borderWidth: 1 } },
        { type: "heatmap", name: "hidden", data: hidden, label: { show: false },
          itemStyle: { color: HIDDEN_FILL, borderColor: "#fff", borderWidth: 1,
                       decal: { symbol: "rect", color: HIDDEN_STRIPE, dashArrayX: [1, 0],
                                dashArrayY: [2, 4], rotation: Math.PI / 4 } } }
      ]
    });
    charts.push(chart);
  }

  trend("trend-chart", "trend-data");
  trend("handoff-trend-chart", "handoff-trend-data");
  heatmap();
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  window.icrCharts = charts;
})();
