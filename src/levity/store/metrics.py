"""In-memory counters and histograms for `/metrics`, fed by the monitor as records arrive.

Label sets are capped: the model name comes from the client, so without a cap a client could
grow this without bound; series beyond the cap fold into the label value `other`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from .records import RequestRecord
from .stats import is_error

MAX_SERIES = 500
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TOKEN_KINDS = ("input", "output", "cached", "reasoning")

Labels = tuple[str, ...]


class Counter:
    def __init__(self) -> None:
        self.values: dict[Labels, float] = {}

    def inc(self, labels: Labels, amount: float = 1) -> None:
        if labels not in self.values and len(self.values) >= MAX_SERIES:
            labels = tuple("other" for _ in labels)
        self.values[labels] = self.values.get(labels, 0) + amount


class Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.series: dict[Labels, list[float]] = {}  # per-bucket counts, then +Inf count, then sum

    def observe(self, labels: Labels, value: float) -> None:
        if labels not in self.series and len(self.series) >= MAX_SERIES:
            labels = tuple("other" for _ in labels)
        row = self.series.get(labels)
        if row is None:
            row = self.series[labels] = [0.0] * (len(self.buckets) + 2)
        row[bisect_left(self.buckets, value)] += 1  # the first bucket whose bound is >= value
        row[-1] += value


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: Labels, extra: str = "") -> str:
    parts = [f'{n}="{_esc(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


class Metrics:
    def __init__(self) -> None:
        self.requests = Counter()  # protocol, account, status_class
        self.errors = Counter()  # protocol, account
        self.attempt_failures = Counter()  # account
        self.tokens = Counter()  # account, model, kind
        self.duration = Histogram(LATENCY_BUCKETS)  # protocol
        self.ttfb = Histogram(LATENCY_BUCKETS)  # protocol

    def observe(self, rec: RequestRecord) -> None:
        status_class = f"{rec.status // 100}xx" if rec.status else "none"
        self.requests.inc((rec.protocol, rec.account, status_class))
        if is_error(rec):
            self.errors.inc((rec.protocol, rec.account))
        for a in rec.attempts:
            if a.error:
                self.attempt_failures.inc((a.account,))
        model = rec.mapped_model or rec.model
        for kind, n in zip(TOKEN_KINDS, (rec.input_tokens, rec.output_tokens, rec.cached_tokens, rec.reasoning_tokens),
                           strict=True):  # fmt: skip
            if n:
                self.tokens.inc((rec.account, model, kind), n)
        self.duration.observe((rec.protocol,), rec.duration_ms / 1000)
        if rec.ttfb_ms is not None:
            self.ttfb.observe((rec.protocol,), rec.ttfb_ms / 1000)

    def render(self) -> Iterator[str]:
        yield from _counter("levity_requests_total", "Proxied requests by client protocol, account and status class.",
                            ("protocol", "account", "status_class"), self.requests)  # fmt: skip
        yield from _counter("levity_request_errors_total", "Proxied requests that ended in an error.",
                            ("protocol", "account"), self.errors)  # fmt: skip
        yield from _counter("levity_upstream_attempt_failures_total", "Failed upstream attempts by account.",
                            ("account",), self.attempt_failures)  # fmt: skip
        yield from _counter("levity_tokens_total", "Tokens by account, upstream model and kind.",
                            ("account", "model", "kind"), self.tokens)  # fmt: skip
        yield from _histogram("levity_request_duration_seconds", "Time from request to the last byte.",
                              ("protocol",), self.duration)  # fmt: skip
        yield from _histogram("levity_time_to_first_byte_seconds", "Time from request to the first byte sent.",
                              ("protocol",), self.ttfb)  # fmt: skip


def _counter(name: str, help_: str, names: tuple[str, ...], c: Counter) -> Iterator[str]:
    yield f"# HELP {name} {help_}"
    yield f"# TYPE {name} counter"
    for labels, v in sorted(c.values.items()):
        yield f"{name}{_labels(names, labels)} {_fmt(v)}"


def _histogram(name: str, help_: str, names: tuple[str, ...], h: Histogram) -> Iterator[str]:
    yield f"# HELP {name} {help_}"
    yield f"# TYPE {name} histogram"
    for labels, row in sorted(h.series.items()):
        cumulative = 0.0
        for bound, n in zip(h.buckets, row, strict=False):
            cumulative += n
            le = 'le="' + _fmt(bound) + '"'
            yield f"{name}_bucket{_labels(names, labels, le)} {_fmt(cumulative)}"
        cumulative += row[len(h.buckets)]
        inf = _labels(names, labels, 'le="+Inf"')
        yield f"{name}_bucket{inf} {_fmt(cumulative)}"
        yield f"{name}_sum{_labels(names, labels)} {_fmt(row[-1])}"
        yield f"{name}_count{_labels(names, labels)} {_fmt(cumulative)}"


def gauge(name: str, help_: str, names: tuple[str, ...], values: dict[Labels, float]) -> Iterator[str]:
    yield f"# HELP {name} {help_}"
    yield f"# TYPE {name} gauge"
    for labels, v in sorted(values.items()):
        yield f"{name}{_labels(names, labels)} {_fmt(v)}"
