// Small inline SVG charts: checkup trends and the medication timeline.
import { s } from "./dom.js";

const DAY = 86400000;
const time = (iso) => new Date(`${iso}T00:00:00Z`).getTime();

function scale(from, to, min, max) {
  const span = to - from || 1;
  return (value) => min + ((value - from) / span) * (max - min);
}

function extent(values, pad) {
  const low = Math.min(...values);
  const high = Math.max(...values);
  const margin = (high - low) * pad || Math.abs(high) * 0.05 || 1;
  return [low - margin, high + margin];
}

// series: [{label, points: [{date, value}]}]; reference: a threshold drawn dashed.
export function lineChart({ title, series, reference, referenceLabel, width = 400, height = 190 }) {
  const left = 44,
    right = 12,
    top = 26,
    bottom = 28;
  const points = series.flatMap((line) => line.points);
  const dates = points.map((p) => time(p.date));
  const values = points.map((p) => p.value).concat(reference ? [reference] : []);
  const [low, high] = extent(values, 0.15);
  const x = scale(Math.min(...dates), Math.max(...dates), left + 10, width - right - 10);
  const y = scale(low, high, height - bottom, top);
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart" },
    s("title", {}, title),
    s("text", { x: left, y: 16, class: "chart-title" }, title),
    s("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, class: "axis" }),
    s("line", { x1: left, y1: top, x2: left, y2: height - bottom, class: "axis" }),
    [low, (low + high) / 2, high].map((v) =>
      s("text", { x: left - 4, y: y(v) + 4, class: "tick", "text-anchor": "end" }, v.toFixed(high - low < 10 ? 1 : 0)),
    ),
  );
  if (reference) {
    svg.append(
      s("line", { x1: left, y1: y(reference), x2: width - right, y2: y(reference), class: "reference" }),
      s("text", { x: left + 4, y: y(reference) - 4, class: "tick reference-label" }, referenceLabel),
    );
  }
  for (const [index, line] of series.entries()) {
    const ordered = [...line.points].sort((a, b) => time(a.date) - time(b.date));
    const path = ordered
      .map((p, i) => `${i ? "L" : "M"}${x(time(p.date)).toFixed(1)},${y(p.value).toFixed(1)}`)
      .join(" ");
    svg.append(s("path", { d: path, class: `line line-${index}` }));
    for (const p of ordered) {
      svg.append(
        s(
          "circle",
          { cx: x(time(p.date)), cy: y(p.value), r: 3.5, class: `dot line-${index}` },
          s("title", {}, `${line.label} ${p.date}: ${p.value}`),
        ),
      );
      svg.append(
        s("text", { x: x(time(p.date)), y: y(p.value) - 7, class: "value", "text-anchor": "middle" }, p.value),
      );
    }
  }
  for (const date of new Set(points.map((p) => p.date))) {
    svg.append(
      s(
        "text",
        { x: x(time(date)), y: height - bottom + 16, class: "tick", "text-anchor": "middle" },
        date.slice(0, 7),
      ),
    );
  }
  return svg;
}

// medications: records with dispensed_on, days, drug_name; one row per drug, newest drugs first.
export function medicationTimeline({ title, medications, today, rows = 14, width = 900 }) {
  const byDrug = new Map();
  for (const m of medications) {
    if (!byDrug.has(m.drug_name)) byDrug.set(m.drug_name, []);
    byDrug.get(m.drug_name).push(m);
  }
  const drugs = [...byDrug.keys()].slice(0, rows);
  const label = 230,
    rowHeight = 22,
    top = 10,
    bottom = 24;
  const height = top + drugs.length * rowHeight + bottom;
  const starts = medications.map((m) => time(m.dispensed_on));
  const end = Math.max(time(today), ...starts);
  const x = scale(Math.min(...starts), end, label, width - 10);
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart timeline" },
    s("title", {}, title),
  );
  for (const [row, drug] of drugs.entries()) {
    const y = top + row * rowHeight;
    svg.append(
      s(
        "text",
        { x: label - 8, y: y + 15, class: "drug", "text-anchor": "end" },
        drug.length > 17 ? `${drug.slice(0, 16)}…` : drug,
      ),
    );
    for (const m of byDrug.get(drug)) {
      const from = time(m.dispensed_on);
      const to = from + Math.max(m.days, 1) * DAY;
      svg.append(
        s(
          "rect",
          {
            x: x(from),
            y: y + 4,
            width: Math.max(x(to) - x(from), 2),
            height: rowHeight - 8,
            rx: 2,
            class: m.in_house ? "bar in-house" : "bar",
          },
          s("title", {}, `${m.drug_name} ${m.dispensed_on} ${m.days}日 ${m.dispenser_name}`),
        ),
      );
    }
  }
  const first = new Date(Math.min(...starts)).getUTCFullYear();
  for (let year = first + 1; year <= new Date(end).getUTCFullYear(); year += 1) {
    const at = x(Date.UTC(year, 0, 1));
    svg.append(
      s("line", { x1: at, y1: top, x2: at, y2: height - bottom, class: "grid" }),
      s("text", { x: at, y: height - 6, class: "tick", "text-anchor": "middle" }, String(year)),
    );
  }
  return svg;
}
