// Draws every plotly figure whose JSON sits in a <script type="application/json" id="X-data">
// block into the element with id X. The CSP forbids inline scripts, so the figure is built
// in Python (usage/charts.py) and only drawn here.
document.addEventListener("DOMContentLoaded", () => {
  if (!window.Plotly) return;
  document.querySelectorAll('script[type="application/json"][id$="-chart-data"]').forEach((block) => {
    const target = document.getElementById(block.id.slice(0, -"-data".length));
    if (!target) return;
    const figure = JSON.parse(block.textContent);
    const dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
    if (dark) figure.layout.font = { ...(figure.layout.font || {}), color: "#a3abbd" };
    Plotly.newPlot(target, figure.data, figure.layout, { displayModeBar: false, responsive: true });
  });
});
