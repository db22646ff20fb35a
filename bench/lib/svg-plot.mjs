// A dependency-free SVG line chart for benchmark series (the soak's memory and etcd figures over time):
// one panel per group of series sharing a unit, x = minutes, y from 0, a legend per panel.
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");

/**
 * @param {{ title: string, panels: Array<{ unit: string, series: Array<{ label: string, points: Array<[number, number]> }> }> }} chart
 *   points are [minutes, value]
 */
export function svgChart({ title, panels }) {
  const W = 900;
  const PH = 260;
  const M = { l: 70, r: 20, t: 40, b: 40 };
  const H = M.t + panels.length * (PH + M.b) + 10;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  panels.forEach((p, pi) => {
    const top = M.t + pi * (PH + M.b);
    const all = p.series.flatMap((s) => s.points);
    const xMax = Math.max(1e-9, ...all.map((q) => q[0]));
    const yMax = Math.max(1e-9, ...all.map((q) => q[1])) * 1.1;
    const x = (v) => M.l + (v / xMax) * (W - M.l - M.r);
    const y = (v) => top + PH - (v / yMax) * PH;
    out.push(
      `<rect x="${M.l}" y="${top}" width="${W - M.l - M.r}" height="${PH}" fill="none" stroke="#999"/>`,
    );
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4;
      out.push(
        `<line x1="${M.l}" x2="${W - M.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
        `<text x="${M.l - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`,
      );
      const xv = (xMax * i) / 4;
      out.push(`<text x="${x(xv)}" y="${top + PH + 16}" text-anchor="middle">${+xv.toFixed(1)} min</text>`);
    }
    out.push(
      `<text x="14" y="${top + PH / 2}" transform="rotate(-90 14 ${top + PH / 2})" text-anchor="middle">${esc(p.unit)}</text>`,
    );
    p.series.forEach((s, si) => {
      const c = COLORS[si % COLORS.length];
      const d = s.points
        .map((q, i) => `${i === 0 ? "M" : "L"}${x(q[0]).toFixed(1)},${y(q[1]).toFixed(1)}`)
        .join("");
      out.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="1.5"/>`);
      out.push(
        `<rect x="${M.l + 10}" y="${top + 10 + si * 16}" width="10" height="10" fill="${c}"/>`,
        `<text x="${M.l + 26}" y="${top + 19 + si * 16}">${esc(s.label)}</text>`,
      );
    });
  });
  out.push("</svg>");
  return out.join("\n");
}
