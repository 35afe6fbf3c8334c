/*
 * The dashboard's charts (templates/admin/stats.html), drawn with the vendored Chart.js
 * (static/vendor/chartjs). Each <table data-chart> is one chart and its numbers:
 *   <table id="…" data-chart="bar|hbar" data-unit="%" data-series="报送率(%)" data-max="100">
 *     <tr data-label="1月" data-value="95.5">   one bar (data-value "" = no bar)
 *   <canvas data-chart-for="…">                 where that table's chart is drawn
 * The chart is read from the table, never from a second copy of the data, so what is drawn is
 * what the table beside it says. No inline script or style (the page's CSP allows neither):
 * sizes are set through the CSSOM, which the policy does not restrict.
 */
(function () {
  'use strict';

  var Chart = window.Chart;
  if (!Chart) {
    return;  // the tables are the page
  }
  var BAR = '#b3261e';       // the app's red (contrast 6.1:1 on white)
  var PERCENT_BAR = '#1f6f8b';
  var TEXT = '#3d434b';
  var GRID = '#e4e6ea';
  var ROW_PX = 30;           // a horizontal bar and its gap
  var AXES_PX = 44;

  Chart.defaults.font.family = window.getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 13;
  Chart.defaults.color = TEXT;

  function readRows(table) {
    var labels = [];
    var values = [];
    table.querySelectorAll('tbody tr[data-label]').forEach(function (row) {
      var value = row.getAttribute('data-value');
      labels.push(row.getAttribute('data-label'));
      values.push(value === '' || value === null ? null : Number(value));
    });
    return {labels: labels, values: values};
  }

  function draw(table) {
    var canvas = document.querySelector('canvas[data-chart-for="' + table.id + '"]');
    if (!canvas) {
      return null;
    }
    var rows = readRows(table);
    var horizontal = table.getAttribute('data-chart') === 'hbar';
    var unit = table.getAttribute('data-unit') || '';
    var max = table.getAttribute('data-max');
    if (horizontal) {
      // As tall as its bars need: long Chinese labels stay readable on a 360 px phone.
      canvas.parentNode.style.height = (rows.labels.length * ROW_PX + AXES_PX) + 'px';
    }
    var valueAxis = {
      beginAtZero: true,
      grid: {color: GRID},
      ticks: {precision: 0, callback: function (value) { return value + (unit === '%' ? '%' : ''); }}
    };
    if (max) {
      valueAxis.max = Number(max);
    }
    var labelAxis = {grid: {display: false}, ticks: {autoSkip: false}};
    return new Chart(canvas, {
      type: 'bar',
      data: {
        labels: rows.labels,
        datasets: [{
          label: table.getAttribute('data-series') || '',
          data: rows.values,
          backgroundColor: unit === '%' ? PERCENT_BAR : BAR,
          maxBarThickness: 36
        }]
      },
      options: {
        indexAxis: horizontal ? 'y' : 'x',
        responsive: true,
        maintainAspectRatio: false,
        animation: false,  // drawn at once: cheap phones, and a page printed right away
        plugins: {
          legend: {display: false},
          tooltip: {callbacks: {label: function (item) {
            return item.dataset.label + '：' + item.formattedValue;
          }}}
        },
        scales: horizontal ? {x: valueAxis, y: labelAxis} : {x: labelAxis, y: valueAxis}
      }
    });
  }

  document.querySelectorAll('table[data-chart]').forEach(draw);
})();
