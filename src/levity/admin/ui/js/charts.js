// Charts drawn as SVG by our own code: stacked bars and lines over a time axis.
import { fmt, h } from "./dom.js";

export const PALETTE = ["#4f46e5", "#0891b2", "#16a34a", "#ea580c", "#db2777", "#7c3aed", "#ca8a04", "#64748b"];
const W = 800;
const M = { left: 56, right: 12, top: 10, bottom: 28 };

// The axis top: four equal steps, each a round number (and a whole one: the charts count things).
function niceMax(v) {
  const raw = Math.max(v, 0) / 4;
  if (raw <= 1) return 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const steps = p >= 10 ? [1, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 8, 10] : [1, 2, 3, 4, 5, 6, 8, 10];
  const m = steps.find((s) => s * p >= raw);
  return 4 * m * p;
}

function frame(height, max, formatY) {
  const plotH = height - M.top - M.bottom;
  const g = h("g", { class: "axis" });
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const y = M.top + plotH - (plotH * i) / 4;
    g.append(
      h("line", { class: "grid-line", x1: M.left, x2: W - M.right, y1: y, y2: y }),
      h("text", { x: M.left - 6, y: y + 4, "text-anchor": "end" }, formatY(v)),
    );
  }
  return { g, plotH };
}

function xLabels(g, times, x, height, formatX) {
  const every = Math.max(1, Math.ceil(times.length / 8));
  times.forEach((t, i) => {
    if (i % every) return;
    g.append(h("text", { x: x(i), y: height - 8, "text-anchor": "middle" }, formatX(t)));
  });
}

export function legend(series) {
  return h("div", { class: "legend" }, series.map((s, i) => {
    const sw = h("span", { class: `swatch swatch-${i % PALETTE.length}` });
    if (s.color) sw.style.background = s.color;
    return h("span", {}, sw, s.name);
  }));
}

// series: [{ name, values: number[] aligned with times }]
export function barChart({ times, series, height = 240, formatX = fmt.time, formatY = fmt.compact, label = "" }) {
  const totals = times.map((_, i) => series.reduce((s, ser) => s + (ser.values[i] || 0), 0));
  const max = niceMax(Math.max(4, ...totals)); // at least 4 so count axes keep whole-number ticks
  const { g, plotH } = frame(height, max, formatY);
  const plotW = W - M.left - M.right;
  const step = plotW / Math.max(times.length, 1);
  const barW = Math.max(1, step * 0.75);
  const x = (i) => M.left + step * i + step / 2;
  const bars = h("g", { class: "bars" });
  times.forEach((t, i) => {
    let base = 0;
    series.forEach((ser, si) => {
      const v = ser.values[i] || 0;
      if (!v) return;
      const y0 = M.top + plotH - (plotH * base) / max;
      const hgt = (plotH * v) / max;
      bars.append(h("rect", { x: x(i) - barW / 2, y: y0 - hgt, width: barW, height: Math.max(hgt, 0.5),
        fill: ser.color || PALETTE[si % PALETTE.length] },
      h("title", {}, `${ser.name} · ${formatX(t)}: ${fmt.int(v)}`)));
      base += v;
    });
  });
  xLabels(g, times, x, height, formatX);
  return h("div", { class: "chart" },
    h("svg", { viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": label }, g, bars),
    series.length > 1 ? legend(series) : null);
}

export function lineChart({ times, series, height = 200, formatX = fmt.time, formatY = fmt.compact, label = "" }) {
  const max = niceMax(Math.max(4, ...series.flatMap((s) => s.values)));
  const { g, plotH } = frame(height, max, formatY);
  const plotW = W - M.left - M.right;
  const step = plotW / Math.max(times.length, 1);
  const x = (i) => M.left + step * i + step / 2; // centred like the bars, so end labels are not clipped
  const y = (v) => M.top + plotH - (plotH * v) / max;
  const lines = h("g", { class: "lines" });
  series.forEach((ser, si) => {
    const color = ser.color || PALETTE[si % PALETTE.length];
    const pts = ser.values.map((v, i) => `${x(i).toFixed(1)},${y(v || 0).toFixed(1)}`).join(" ");
    lines.append(h("polyline", { points: pts, fill: "none", stroke: color, "stroke-width": 2 }));
    ser.values.forEach((v, i) => {
      if (v) lines.append(h("circle", { cx: x(i), cy: y(v), r: 2.5, fill: color },
        h("title", {}, `${ser.name} · ${formatX(times[i])}: ${fmt.int(v)}`)));
    });
  });
  xLabels(g, times, x, height, formatX);
  return h("div", { class: "chart" },
    h("svg", { viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": label }, g, lines),
    series.length > 1 ? legend(series) : null);
}
