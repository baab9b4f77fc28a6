"""What the provider pages show of a provider's traffic: how an answer is marked, and the
provisioning activity chart of the last 24 hours, an SVG drawn here (no script, no style
attribute: the console's CSP allows neither) from the per-minute counts the admin API's
activity endpoint reads. (The connection check's words: gateway.accounts.connection.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from markupsafe import Markup, escape

from gateway.clock import parse_time
from gateway.observability.middleware import is_error

BUCKET_MINUTES = 15
BUCKETS = 24 * 60 // BUCKET_MINUTES  # 96 bars
# The SVG's own units: a bar per 10 units, the plot above a row of time labels.
BAR, GAP, TOP, PLOT, LABELS, LEFT = 10, 2, 14, 110, 18, 0
WIDTH = LEFT + BUCKETS * BAR
HEIGHT = TOP + PLOT + LABELS


def outcome(method: str, status: int, refused: Sequence[int]) -> str:
    """How the console marks an answer: refused (its credential), error, or success (a
    404 on a read is no error: an IdP looks up users it has not created yet)."""
    if status in refused:
        return "refused"
    return "error" if is_error(method, status) else "success"


def buckets(series: list[dict], now: datetime) -> tuple[datetime, list[list[int]]]:
    """The per-minute counts in BUCKETS bars of BUCKET_MINUTES, aligned on the clock's
    quarters and ending with the current one: (the first bar's start, [[requests, errors]])."""
    minute = now.replace(second=0, microsecond=0)
    current = minute - timedelta(minutes=minute.minute % BUCKET_MINUTES)
    first = current - timedelta(minutes=BUCKET_MINUTES * (BUCKETS - 1))
    bars = [[0, 0] for _ in range(BUCKETS)]
    for entry in series:
        index = int((parse_time(entry["minute"]) - first).total_seconds() // 60) \
            // BUCKET_MINUTES
        if 0 <= index < BUCKETS:
            bars[index][0] += entry["requests"]
            bars[index][1] += entry["errors"]
    return first, bars


def totals(series: list[dict]) -> dict:
    """Requests and errors of the series, and the busiest minute's requests."""
    return {"requests": sum(m["requests"] for m in series),
            "errors": sum(m["errors"] for m in series),
            "peak": max((m["requests"] for m in series), default=0)}


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def summary_text(counts: dict) -> str:
    return (f"{plural(counts['requests'], 'request')} and {plural(counts['errors'], 'error')}"
            f" in the last 24 hours; peak {plural(counts['peak'], 'request')} per minute")


def clock(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def numbers(series: list[dict], now: datetime) -> list[dict]:
    """The chart's bars that have requests, as text: what a screen reader or a keyboard
    reaches (a bar's tooltip needs a mouse), oldest first."""
    first, bars = buckets(series, now)
    out = []
    for index, (requests, errors) in enumerate(bars):
        if requests:
            start = first + timedelta(minutes=BUCKET_MINUTES * index)
            out.append({"start": clock(start),
                        "end": clock(start + timedelta(minutes=BUCKET_MINUTES)),
                        "requests": requests, "errors": errors})
    return out


def chart(series: list[dict], now: datetime, chart_id: str = "activity") -> Markup:
    """The SVG: a bar per quarter hour (requests, and their errors in front), the highest
    bar's value at the top, a time label every 6 hours, and a <title> on each bar."""
    first, bars = buckets(series, now)
    counts = totals(series)
    high = max((requests for requests, _ in bars), default=0)
    title = (f"Requests and errors per {BUCKET_MINUTES} minutes over the last 24 hours "
             f"(UTC): {summary_text(counts)}")
    out = [f'<svg class="chart" id="{escape(chart_id)}-svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'role="img" aria-labelledby="{escape(chart_id)}-title" '
           'xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{escape(chart_id)}-title">{escape(title)}</title>']
    base = TOP + PLOT
    out.append(f'<line class="axis" x1="0" y1="{base}" x2="{WIDTH}" y2="{base}"/>')
    if high:
        out.append(f'<line class="grid" x1="0" y1="{TOP}" x2="{WIDTH}" y2="{TOP}"/>')
        out.append(f'<text x="2" y="{TOP - 3}">{high} per {BUCKET_MINUTES} min</text>')
    else:
        out.append(f'<text x="{WIDTH // 2}" y="{TOP + PLOT // 2}" class="none" '
                   'text-anchor="middle">No requests in the last 24 hours</text>')
    for index, (requests, errors) in enumerate(bars):
        if not requests:
            continue
        x = LEFT + index * BAR
        start = first + timedelta(minutes=BUCKET_MINUTES * index)
        end = start + timedelta(minutes=BUCKET_MINUTES)
        tip = (f"{clock(start)}–{clock(end)} UTC: {plural(requests, 'request')}, "
               f"{plural(errors, 'error')}")
        height = max(1.0, PLOT * requests / high)
        out.append(f'<g class="bar"><title>{escape(tip)}</title>'
                   f'<rect class="req" x="{x}" y="{base - height:.1f}" width="{BAR - GAP}" '
                   f'height="{height:.1f}"/>')
        if errors:
            tall = max(1.0, PLOT * errors / high)
            out.append(f'<rect class="err" x="{x}" y="{base - tall:.1f}" '
                       f'width="{BAR - GAP}" height="{tall:.1f}"/>')
        out.append("</g>")
    for index in range(0, BUCKETS + 1, BUCKETS // 4):
        x = min(max(LEFT + index * BAR, 16), WIDTH - 16)
        moment = first + timedelta(minutes=BUCKET_MINUTES * index)
        out.append(f'<text x="{x}" y="{HEIGHT - 4}" text-anchor="middle">{clock(moment)}'
                   '</text>')
    out.append("</svg>")
    return Markup("".join(out))
