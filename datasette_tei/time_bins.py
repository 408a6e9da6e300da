"""The bins of a time chart, chosen from the span it covers: a day a bar for
a span of weeks, a week (Monday to Sunday, UTC) for a year or two, a month
beyond. A campaign active for six weeks then shows its bursts, not two
monthly bars.

Pure functions over rows the build precomputed (per-day counts from
campaign_days or campaign_creation_days, per-month counts from
campaign_months or campaign_account_months): a page sums at most a few
thousand small rows, never the tweets. Each bin is a half-open range of
text [start, end) that a filter `column__gte=start&column__lt=end` opens
exactly, since times are stored as 'YYYY-MM-DD HH:MM' and compare as text.
"""
import datetime

DAY_SPAN = 92  # days: up to about three months, one bar a day
WEEK_SPAN = 2 * 366  # up to about two years, one bar a week

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def as_date(text):
    try:
        return datetime.date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def within_weeks(first, last):
    """Whether days from `first` to `last` are charted by day or week."""
    start, end = as_date(first), as_date(last)
    return bool(start and end) and (end - start).days + 1 <= WEEK_SPAN


def month_after(month):
    """'2016-12' -> '2017-01'; None for anything that is not a month."""
    try:
        year, number = int(month[:4]), int(month[5:7])
    except (TypeError, ValueError):
        return None
    if len(month) != 7 or month[4] != "-" or not 1 <= number <= 12:
        return None
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def fill_months(rows, key):
    """Months without tweets are gaps in the data; a chart shows them as zero."""
    if not rows:
        return []
    by_month = {r["month"]: r for r in rows}
    month, last = rows[0]["month"], rows[-1]["month"]
    if any(month_after(r["month"]) is None for r in rows):
        return rows  # not all months: chart what there is
    filled = []
    while month and month <= last and len(filled) < 1200:
        filled.append(by_month.get(month, {"month": month, key: 0, "url": None}))
        month = month_after(month)
    return filled


def _by_months(months, key):
    return "month", [
        {"start": m["month"], "end": month_after(m["month"]), "label": m["month"], key: m[key]}
        for m in fill_months(months, key)
    ]


def choose(days, months, key):
    """(bin, bins) for rows of days ({'day', key}) and of months ({'month',
    key}), each bin {'start', 'end', 'label', key}. Without days (a database
    an earlier version built), or with a day that is not a date, months."""
    counts = {}
    for row in days or ():
        if not row["day"]:
            continue  # tweets without a time: on no time chart
        day = as_date(row["day"])
        if day is None:
            return _by_months(months, key)
        counts[day] = counts.get(day, 0) + row[key]
    if not counts:
        return _by_months(months, key)
    first, last = min(counts), max(counts)
    span = (last - first).days + 1
    if span > WEEK_SPAN:
        return _by_months(months, key)
    if span <= DAY_SPAN:
        step, start, kind = 1, first, "day"
    else:
        step, start, kind = 7, first - datetime.timedelta(days=first.weekday()), "week"
    bins = []
    while start <= last:
        end = start + datetime.timedelta(days=step)
        total = sum(counts.get(start + datetime.timedelta(days=i), 0) for i in range(step))
        label = start.isoformat() if kind == "day" else f"week of {start.isoformat()}"
        bins.append({"start": start.isoformat(), "end": end.isoformat(), "label": label, key: total})
        start = end
    return kind, bins


def ticks(bins, most=8):
    """(index, text) of the labels under a time axis: where a year begins
    when the chart spans several years, else where a month begins, the year
    written at the first label and wherever it changes; at most `most`."""
    starts = [b["start"] for b in bins]
    years = [i for i, s in enumerate(starts) if i == 0 or s[:4] != starts[i - 1][:4]]
    if len(years) >= 3:
        marks = years
    else:
        marks = [i for i, s in enumerate(starts) if i == 0 or s[:7] != starts[i - 1][:7]]
    one_month = len(marks) < 2
    if one_month:  # days of one month: a label a week
        marks = list(range(0, len(starts), 7))
    if len(marks) > most:
        every = -(-len(marks) // most)
        marks = marks[::every]
    out = []
    year = None
    for i in marks:
        s = starts[i]
        if len(s) < 7 or not s[5:7].isdigit() or not 1 <= int(s[5:7]) <= 12:
            out.append((i, s))
            continue
        if len(years) >= 3:
            text = s[:4]
        else:
            text = MONTHS[int(s[5:7]) - 1] + (f" {s[:4]}" if s[:4] != year else "")
            if one_month and len(s) >= 10:
                text = f"{int(s[8:10])} {text}"
        year = s[:4]
        out.append((i, text))
    return out
