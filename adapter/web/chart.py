"""The IT monitor's chart, drawn on the server as inline SVG (no script, prints as is).

Two panels over the same hours: the backlog (bars) and the delivery latency (median line,
maximum as dots), each with its own scale and Chinese labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from zoneinfo import ZoneInfo

from adapter.web.ops import HourPoint

WIDTH, PANEL, GAP, LEFT, BOTTOM = 1100, 140, 36, 56, 22


def _scale(top: float) -> float:
    """A round axis maximum at or above ``top``."""
    for nice in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 60000, 3600 * 24):
        if top <= nice:
            return float(nice)
    return top


def history_svg(points: Sequence[HourPoint], zone: ZoneInfo) -> str:
    if not points:
        return ""
    n = len(points)
    step = (WIDTH - LEFT - 10) / n
    backlog_max = _scale(max(p.backlog for p in points))
    latency_top = max((p.latency_max_s or 0) for p in points)
    latency_max = _scale(latency_top) if latency_top else 1.0
    height = 2 * PANEL + GAP + BOTTOM + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="近24小时积压与上传时延" data-testid="history-chart" '
        f'data-points="{n}" font-size="11" font-family="sans-serif">'
    ]
    top1, top2 = 16, 16 + PANEL + GAP
    label = f"每小时最高积压任务数（刻度 {backlog_max:g}）"
    out.append(f'<text x="{LEFT}" y="11" fill="#14456b">{label}</text>')
    out.append(
        f'<text x="{LEFT}" y="{top2 - 5}" fill="#8c1d18">上传时延 秒（中位数折线，最大值圆点；'
        f"刻度 {latency_max:g}）</text>"
    )
    for top in (top1, top2):
        out.append(
            f'<rect x="{LEFT}" y="{top}" width="{WIDTH - LEFT - 10}" height="{PANEL}" '
            f'fill="#fafbfc" stroke="#d5dbe1"/>'
        )
    line = []
    for i, p in enumerate(points):
        x = LEFT + i * step
        h = PANEL * p.backlog / backlog_max
        hour = f"{p.at.astimezone(zone):%m-%d %H:%M}"
        title = f"截至 {hour} 的一小时：最高积压 {p.backlog}，送达 {p.delivered}"
        out.append(
            f'<rect class="backlog" x="{x + 1:.1f}" y="{top1 + PANEL - h:.1f}" '
            f'width="{max(step - 2, 1):.1f}" height="{h:.1f}" fill="#1a6bb0">'
            f"<title>{escape(title)}</title></rect>"
        )
        if p.latency_p50_s is not None:
            y = top2 + PANEL - PANEL * min(p.latency_p50_s / latency_max, 1)
            line.append(f"{x + step / 2:.1f},{y:.1f}")
        if p.latency_max_s is not None:
            y = top2 + PANEL - PANEL * min(p.latency_max_s / latency_max, 1)
            out.append(
                f'<circle cx="{x + step / 2:.1f}" cy="{y:.1f}" r="2.5" fill="#b3261e">'
                f"<title>最大 {p.latency_max_s:.1f} 秒</title></circle>"
            )
        if i % 3 == 0 or i == n - 1:
            out.append(
                f'<text x="{x + step / 2:.1f}" y="{top2 + PANEL + 15}" text-anchor="middle" '
                f'fill="#5b6b7a">{p.at.astimezone(zone):%H:%M}</text>'
            )
    if len(line) > 1:
        out.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#b3261e"/>')
    out.append("</svg>")
    return "".join(out)
