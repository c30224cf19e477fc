// Charts through Chart.js (Debian's libjs-chart.js) when it loaded; the
// tables next to each chart carry the same figures, so nothing is lost
// without it.

import { formatBytes } from "./api.js";

const charts = new Map();
const COLORS = ["#2f6fab", "#e07b39", "#3f9b5a", "#b8477a", "#7a6cc0", "#9a8b3a", "#4aa3a8", "#c0504d"];

export function barChart(canvas, labels, values, label) {
  return draw(canvas, "bar", labels, values, label);
}

export function doughnutChart(canvas, labels, values, label) {
  return draw(canvas, "doughnut", labels, values, label);
}

function draw(canvas, type, labels, values, label) {
  if (typeof window.Chart !== "function") {
    canvas.parentElement.hidden = true;
    return null;
  }
  charts.get(canvas)?.destroy();
  const chart = new window.Chart(canvas, {
    type,
    data: { labels, datasets: [{ label, data: values, backgroundColor: labels.map((_, i) => COLORS[i % COLORS.length]) }] },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: {
        legend: { display: type === "doughnut" },
        tooltip: { callbacks: { label: (c) => " " + formatBytes(c.raw) } },
      },
      scales: type === "bar" ? { y: { ticks: { callback: (v) => formatBytes(v) } } } : {},
    },
  });
  charts.set(canvas, chart);
  canvas.dataset.rendered = "true";
  return chart;
}
