"""Redundancy of a windowed series: group near-duplicate windows, label regimes, count effective data.

Pipeline
--------
1. **Windows.** An array ``(windows, time, channels)``, a series ``(time, channels)`` cut into
   windows of ``window`` steps every ``stride`` steps, an xarray DataArray with named dims, a
   ``.npy`` file, or an iterable of window chunks (streamed; the input never has to fit in
   memory).
2. **Per-window normalisation.** Each channel is z-scored within the window,
   ``z = (x − mean) / max(std, floor)``, so windows that differ only by offset and scale are
   the same shape. The floor makes flat (or nearly flat) channels map to zero instead of
   amplified noise, so flat windows group together. Default floor per channel: 1% of the
   median within-window std of that channel over the first chunk.
3. **Distance.** RMS distance of the normalised windows, ``dist = ||a − b|| / sqrt(T·C)``.
   For windows without floored channels ``dist² = 2·(1 − ρ̄)`` where ρ̄ is the mean
   per-channel Pearson correlation, so the default threshold 0.5 links windows whose shapes
   correlate at ρ̄ >= 0.875.
4. **Grouping.** Windows within the threshold are linked; groups are connected components.
   :func:`exact_groups` links every pair (O(n²), chunked; the reference for tests).
   :func:`lsh_groups` (default) is a streaming leader scheme: sign-random-projection LSH
   (SimHash, Charikar 2002: two vectors at angle θ agree on a random hyperplane bit with
   probability ``1 − θ/π``). One pool of ``hyperplanes`` projections (128) gives a bit sketch
   per window; each of ``bands`` (32) bands samples ``bits`` (16) of those bits in blocks of
   8 (bit-sampling LSH on the sketch, Indyk & Motwani 1998), so the cost is one
   ``(T·C) × 128`` matrix product per window. A band key shared with a stored group
   representative proposes a candidate; every candidate is verified with the true distance;
   a window that matches no representative founds a new group (within-chunk candidates from
   the same band keys, verified and joined by connected components) and its first member
   becomes a representative; a window matching representatives of two groups merges them
   (union-find through :func:`scipy.sparse.csgraph.connected_components`). Memory is the
   chunk, the representatives (one float32 vector each, at most ``max_representatives``) and
   one int64 label per window — about 400 MiB peak for 10⁶ windows of 64 × 8.
   Against the exact reference, every fast link is a verified near pair (pair precision 1);
   recall of same-group pairs is >= 0.95 on the noisy test corpus streamed in chunks of 1,000
   (tests/timeseries/test_redundancy.py) and drops when near-duplicates sit close to the threshold or
   arrive in one large chunk (benchmarks/README.md, ``benchmarks/redundancy_recall.py``).
5. **Regimes.** A window is ``normal`` when its group has at least ``normal_min_size`` members,
   else ``rare``; or each window takes a user label (for a series with a per-step label column:
   the corpus-rarest label present in the window, so a window touching an intervention is an
   intervention window).
6. **Effective data** (:mod:`tsbudget.timeseries.regimes`): each regime's distinct groups are its unique
   units and its windows the units read in one epoch; ``D' = Σ_r U_r(1 + R*_r(1 − e^{−R_r/R*_r}))``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping

import attrs
import numpy as np

from tsbudget.errors import InputError
from tsbudget.timeseries.regimes import RegimeData

__all__ = [
    "RedundancyReport",
    "measure_redundancy",
    "normalise_windows",
    "default_floor",
    "exact_groups",
    "lsh_groups",
    "sliding_windows",
    "window_labels",
    "iter_npy_windows",
    "pair_scores",
]

DEFAULT_THRESHOLD = 0.5
DEFAULT_REL_FLOOR = 0.01
DEFAULT_CHUNK = 16_384


# --- windows ---------------------------------------------------------------------------------
def _as_windows(arr, name="windows") -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise InputError(f"{name} must have shape (windows, time, channels), got shape {arr.shape}")
    if arr.shape[1] < 2 or arr.shape[2] < 1:
        raise InputError(f"{name} need at least 2 time steps and 1 channel, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise InputError(f"{name} must be real numbers, got dtype {arr.dtype}")
    return arr


def sliding_windows(series, window: int, stride: int | None = None) -> np.ndarray:
    """Windows ``(n, window, channels)`` of a series ``(time,)`` or ``(time, channels)`` (a view)."""
    series = np.asarray(series)
    if series.ndim == 1:
        series = series[:, None]
    if series.ndim != 2:
        raise InputError(f"series must have shape (time,) or (time, channels), got shape {series.shape}")
    window = _positive_int(window, "window")
    stride = window if stride is None else _positive_int(stride, "stride")
    if window < 2:
        raise InputError(f"window must be >= 2 time steps, got {window}")
    if series.shape[0] < window:
        raise InputError(f"window {window} is longer than the series ({series.shape[0]} steps)")
    view = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)  # (n, C, window)
    return view[::stride].transpose(0, 2, 1)


def window_labels(step_labels, window: int, stride: int | None = None) -> np.ndarray:
    """Per-window labels from per-step labels: the corpus-rarest label present in the window.

    Rarest wins so that a window touching a rare regime or an intervention is counted as one
    (a planner must not discount it as normal state). Ties in frequency break by label order.
    """
    step_labels = np.asarray(step_labels).astype(str)
    stride = window if stride is None else stride
    names, codes, counts = np.unique(step_labels, return_inverse=True, return_counts=True)
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.lexsort((names, -counts))] = np.arange(len(names))  # 0 = most common
    ranked = rank[codes.ravel()]
    view = np.lib.stride_tricks.sliding_window_view(ranked, window)[::stride]
    by_rank = np.empty(len(names), dtype=object)
    by_rank[rank] = names
    return by_rank[view.max(axis=1)].astype(str)


def iter_npy_windows(path, chunk: int = DEFAULT_CHUNK) -> Iterator[np.ndarray]:
    """Chunks of a ``.npy`` window array read with plain file reads (no memory map, so the
    file's pages never count towards this process's resident memory)."""
    path = os.fspath(path)
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot open window file {path!r}: {exc.strerror}") from None
    with f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
        except ValueError as exc:
            raise InputError(f"{path!r} is not a .npy array file: {exc}") from None
        if len(shape) != 3 or fortran or dtype.hasobject:
            raise InputError(
                f"{path!r} must hold a C-ordered numeric array (windows, time, channels), "
                f"got shape {shape}, dtype {dtype}, fortran_order={fortran}"
            )
        n, t, c = shape
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            buf = np.empty((m, t, c), dtype=dtype)
            if f.readinto(memoryview(buf).cast("B")) != buf.nbytes:
                raise InputError(f"{path!r} is truncated: expected {n} windows")
            yield buf


def _positive_int(value, name) -> int:
    try:
        out = int(value)
        ok = out == value and out >= 1 and not isinstance(value, bool)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise InputError(f"{name} must be an integer >= 1, got {value!r}")
    return out


# --- normalisation and distance ----------------------------------------------------------------
def default_floor(windows, rel: float = DEFAULT_REL_FLOOR) -> np.ndarray:
    """Per-channel std floor: ``rel`` × the median within-window std of each channel.

    Non-finite input gives a non-finite floor without a numpy warning; the caller's
    :func:`normalise_windows` then names the offending window.
    """
    with np.errstate(all="ignore"):
        w = np.asarray(windows, dtype=np.float64)
        std = w.std(axis=1)  # (n, C)
        med = np.median(std, axis=0)
        pos = np.where(std > 0, std, np.nan)
        fallback = np.nanmean(pos, axis=0) if np.any(std > 0) else np.ones(std.shape[1])
    fallback = np.where(np.isfinite(fallback), fallback, 1.0)
    return (rel * np.where(med > 0, med, fallback)).astype(np.float32)


def _raise_bad_window(windows, stat, start: int):
    """Name the first window (counted from the start of the whole input) that cannot be
    normalised: one holding NaN/inf, else the first whose per-window ``stat`` (sum or sum of
    squares, shape ``(m, 1, C)``) overflowed float32."""
    src = np.asarray(windows)
    bad = np.argwhere(~np.isfinite(src)) if np.issubdtype(src.dtype, np.floating) else np.empty((0, 3), int)
    if bad.size:
        i, t, c = (int(x) for x in bad[0])
        raise InputError(f"window {start + i} holds a non-finite value {src[i, t, c]} at step {t}, channel {c}")
    i = int(np.flatnonzero(~np.isfinite(stat).all(axis=(1, 2)))[0])
    big = float(np.abs(src[i].astype(np.float64)).max())
    raise InputError(
        f"window {start + i} holds values too large to normalise in float32 (|x| up to {big:.4g}); "
        f"rescale the series (e.g. change its unit)"
    )


def normalise_windows(windows, floor, start: int = 0) -> np.ndarray:
    """Per-window, per-channel z-scores with the std floored, flattened to ``(n, T·C)`` float32.

    ``start`` is the index of the first of these windows in the whole input (a chunk's
    offset when streaming), used only to name a bad window: NaN/inf anywhere, or values so
    large that float32 sums overflow, raise :class:`~tsbudget.errors.InputError` before any
    arithmetic on them can warn.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # checked below, named by window
        w = np.asarray(windows, dtype=np.float32)
        t = w.shape[1]
        mean = w.sum(axis=1, keepdims=True)
        if not np.all(np.isfinite(mean)):  # NaN/inf anywhere in a window makes its sum non-finite
            _raise_bad_window(windows, mean, start)
        mean *= np.float32(1.0 / t)
        z = w - mean
        std = np.einsum("mtc,mtc->mc", z, z)[:, None, :]
        if not np.all(np.isfinite(std)):  # finite values whose differences or squares overflow float32
            _raise_bad_window(windows, std, start)
    std *= np.float32(1.0 / t)
    np.sqrt(std, out=std)
    np.maximum(std, np.asarray(floor, dtype=np.float32), out=std)
    z /= std
    return z.reshape(len(z), -1)


def _rms_dist(a, b) -> np.ndarray:
    diff = a - b
    return np.sqrt(np.einsum("ij,ij->i", diff, diff) / a.shape[1])


def _components(n: int, i, j) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def exact_groups(z, threshold: float = DEFAULT_THRESHOLD, chunk: int = 1024) -> np.ndarray:
    """Reference grouping: link every pair of normalised windows ``z`` (n, T·C) within
    ``threshold`` (RMS distance, float64), return connected-component labels. O(n²) time,
    O(chunk·n) memory."""
    z = np.asarray(z, dtype=np.float64)
    n, dim = z.shape
    sq = np.einsum("ij,ij->i", z, z)
    limit = threshold * threshold * dim
    ii, jj = [], []
    for s in range(0, n, chunk):
        block = z[s : s + chunk]
        d2 = sq[s : s + chunk, None] + sq[None, :] - 2.0 * block @ z.T
        i, j = np.nonzero(d2 <= limit + 1e-9 * dim)
        keep = j > i + s
        ii.append(i[keep] + s)
        jj.append(j[keep])
    return _components(n, np.concatenate(ii), np.concatenate(jj))


# --- streaming LSH grouping -------------------------------------------------------------------
@attrs.define
class _Representatives:
    """Stored group founders: vectors plus, per band, their keys sorted for lookup."""

    dim: int
    bands: int
    vectors: np.ndarray = None
    count: int = 0
    keys: list = None
    ids: list = None

    def __attrs_post_init__(self):
        self.vectors = np.empty((1024, self.dim), dtype=np.float32)
        self.keys = [np.empty(0, dtype=np.uint64) for _ in range(self.bands)]
        self.ids = [np.empty(0, dtype=np.int64) for _ in range(self.bands)]

    def add(self, vectors, keys, ids):
        m = len(vectors)
        if self.count + m > len(self.vectors):
            grown = np.empty((max(2 * len(self.vectors), self.count + m), self.dim), dtype=np.float32)
            grown[: self.count] = self.vectors[: self.count]
            self.vectors = grown
        self.vectors[self.count : self.count + m] = vectors
        self.count += m
        for b in range(self.bands):
            order = np.argsort(keys[:, b], kind="stable")
            new_k, new_i = keys[order, b], ids[order]
            pos = np.searchsorted(self.keys[b], new_k, side="right")
            self.keys[b] = np.insert(self.keys[b], pos, new_k)
            self.ids[b] = np.insert(self.ids[b], pos, new_i)

    def candidates(self, keys, probe: int):
        """(window, slot, votes): stored representatives sharing a band key with a window, and in
        how many bands they do. Deduplicated per window by a row-wise sort (rows are short)."""
        m = len(keys)
        hits = np.full((m, self.bands * probe), -1, dtype=np.int64)
        for b in range(self.bands):
            stored = self.keys[b]
            if len(stored) == 0:
                continue
            pos = np.searchsorted(stored, keys[:, b])
            for p in range(probe):
                q = np.minimum(pos + p, len(stored) - 1)
                hit = (pos + p < len(stored)) & (stored[q] == keys[:, b])
                hits[hit, b * probe + p] = self.ids[b][q[hit]]
        hits.sort(axis=1)
        new = np.ones(hits.shape, dtype=bool)
        new[:, 1:] = hits[:, 1:] != hits[:, :-1]
        w, col = np.nonzero(new & (hits >= 0))
        start = w * hits.shape[1] + col
        # votes: run length of each distinct slot within its (sorted) row
        flat_new = new.ravel() | (np.arange(hits.size) % hits.shape[1] == 0)
        bounds = np.flatnonzero(flat_new)
        run = np.diff(np.r_[bounds, hits.size])
        votes = run[np.searchsorted(bounds, start)]
        return w.astype(np.int64), hits.ravel()[start], votes


def _band_keys(z, planes, offset, band_bytes) -> np.ndarray:
    """SimHash band keys ``(m, bands)`` uint64: the sign bits of ``z @ planes + offset``
    packed into bytes, and per band the bytes listed in a row of ``band_bytes`` (bit sampling
    in blocks of 8 hyperplanes, so keys are byte gathers rather than per-bit work).

    ``offset`` is the projection of one extra constant coordinate appended to every vector:
    it leaves distances unchanged but gives (nearly) flat windows, whose normalised vectors
    are (nearly) zero, the same signs instead of the signs of rounding noise.
    """
    m, (bands, width) = len(z), band_bytes.shape
    proj = z @ planes
    proj += offset
    sketch = np.packbits((proj >= 0).ravel()).reshape(m, -1)  # (m, hyperplanes/8)
    out = np.zeros((m, bands, 8), dtype=np.uint8)
    out[:, :, :width] = sketch[:, band_bytes]
    return out.view(np.uint64)[:, :, 0]


def _within_chunk_pairs(keys, order_key, neighbours: int = 4):
    """Candidate pairs inside a chunk: per band, each bucket member to its ``neighbours``
    predecessors and to the bucket's first member (chain plus star, so one bad link does
    not split a bucket). Members are ordered within a bucket by ``order_key`` (a random
    projection of the windows), so the predecessors are the likeliest near neighbours:
    a large bucket mixes several groups, and plain chain links between them fail."""
    ii, jj = [], []
    n = len(keys)
    idx = np.arange(n)
    sec = np.asarray(order_key)
    for b in range(keys.shape[1]):
        order = np.lexsort((sec, keys[:, b]))
        k = keys[order, b]
        for d in range(1, neighbours + 1):
            same = np.flatnonzero(k[d:] == k[:-d]) + d
            if same.size == 0:
                break
            ii.append(order[same - d])
            jj.append(order[same])
        same = np.flatnonzero(k[1:] == k[:-1]) + 1
        if same.size == 0:
            continue
        start = np.maximum.accumulate(np.where(np.r_[True, k[1:] != k[:-1]], idx, 0))
        star = same[start[same] < same - 1]
        ii.append(order[start[star]])
        jj.append(order[star])
    if not ii:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pair = np.unique(np.minimum(np.concatenate(ii), np.concatenate(jj)) * np.int64(1 << 31)
                     + np.maximum(np.concatenate(ii), np.concatenate(jj)))
    return pair >> 31, pair & ((1 << 31) - 1)


def _take_hits(windows, nodes, node, grouped, merge_a, merge_b) -> np.ndarray:
    """Record verified hits ``(window, node)`` sorted by window: each window joins its first
    node, and a window within reach of several nodes joins their groups (merge pairs).
    Returns the windows that joined (also appended to ``grouped``)."""
    first = np.r_[True, windows[1:] != windows[:-1]]
    joined = windows[first]
    node[joined] = nodes[first]
    grouped.append(joined)
    lead = np.repeat(nodes[first], np.diff(np.r_[np.flatnonzero(first), len(windows)]))
    merge_a.append(lead[~first])
    merge_b.append(nodes[~first])
    return joined


def _join_grouped(z, keys, order_key, grouped, rest, node, threshold, neighbours: int = 4):
    """Verified links ``(window, node)`` from ungrouped windows ``rest`` to windows of the
    same chunk already in a group: per band, each ungrouped window is checked against the
    ``neighbours`` grouped windows on either side of it in its bucket (ordered by a random
    projection, as in :func:`_within_chunk_pairs`) and the bucket's first member. The
    candidate pairs grow with the ungrouped windows; the per-band sort is over both sets."""
    both = np.concatenate([grouped, rest])
    g, m = len(grouped), len(both)
    sec = order_key[both]
    is_rest = np.arange(m) >= g
    aa, bb = [], []
    for b in range(keys.shape[1]):
        order = np.lexsort((sec, keys[both, b]))
        k = keys[both, b][order]
        first = np.maximum.accumulate(np.where(np.r_[True, k[1:] != k[:-1]], np.arange(m), 0))
        pos = np.flatnonzero(is_rest[order])  # sorted positions of the ungrouped windows
        cand = [first[pos]]
        for d in range(1, neighbours + 1):
            cand += [np.maximum(pos - d, 0), np.minimum(pos + d, m - 1)]
        for q in cand:
            ok = (k[q] == k[pos]) & ~is_rest[order[q]]
            aa.append(order[q[ok]])
            bb.append(order[pos[ok]])
    a = np.concatenate(aa) if aa else np.empty(0, np.int64)
    b = np.concatenate(bb) if bb else np.empty(0, np.int64)
    pair = np.unique(a * np.int64(1 << 31) + b)  # a grouped, b not
    a, b = both[pair >> 31], both[pair & ((1 << 31) - 1)]
    ok = _verify(z, z, a, b, threshold)
    w, n = b[ok], node[a[ok]]
    order = np.lexsort((n, w))
    w, n = w[order], n[order]
    keep = np.r_[True, (w[1:] != w[:-1]) | (n[1:] != n[:-1])][: len(w)]
    return w[keep], n[keep], len(a)


def _verify(za, zb_source, ia, ib, threshold, batch=8192):
    ok = np.empty(len(ia), dtype=bool)
    for s in range(0, len(ia), batch):
        ok[s : s + batch] = _rms_dist(za[ia[s : s + batch]], zb_source[ib[s : s + batch]]) <= threshold
    return ok


def _match(reps, z, keys, threshold, probe, comp_of_slot):
    """Verified (window, slot) hits against stored representatives, sorted by window.

    Per window and per current group (``comp_of_slot``) only the best-voted representative
    is checked first, and only if found in >= 2 bands (a true neighbour usually agrees in
    many); the remaining candidates are checked only for windows still without a hit. A hit
    in two different groups is what merges them.
    """
    w, s, votes = reps.candidates(keys, probe)
    comp = comp_of_slot[s]
    order = np.lexsort((-votes, comp, w))
    w, s, votes, comp = w[order], s[order], votes[order], comp[order]
    best = np.r_[True, (w[1:] != w[:-1]) | (comp[1:] != comp[:-1])] & (votes >= 2)
    ok = _verify(z, reps.vectors, w[best], s[best], threshold)
    hit_w, hit_s = w[best][ok], s[best][ok]
    later = ~best & ~np.isin(w, hit_w)
    ok2 = _verify(z, reps.vectors, w[later], s[later], threshold)
    hit_w, hit_s = np.concatenate([hit_w, w[later][ok2]]), np.concatenate([hit_s, s[later][ok2]])
    order = np.lexsort((hit_s, hit_w))
    return hit_w[order], hit_s[order], int(best.sum() + later.sum())


@attrs.frozen
class LSHStats:
    """Diagnostics of one :func:`lsh_groups` run."""

    representatives: int
    candidates_checked: int
    saturated: bool


def lsh_groups(
    chunks: Iterable[np.ndarray],
    threshold: float = DEFAULT_THRESHOLD,
    *,
    floor=None,
    bands: int = 32,
    bits: int = 16,
    hyperplanes: int = 128,
    probe: int = 1,
    max_representatives: int = 250_000,
    boot: int = 4096,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, LSHStats]:
    """Streaming near-duplicate grouping (see the module docstring, step 4).

    ``chunks`` yields window arrays ``(m, T, C)``. Returns ``(labels, floor, stats)`` where
    ``labels`` are connected-component ids per window. When ``max_representatives`` is reached,
    later windows that match no stored representative still group within their chunk but are
    not stored (``stats.saturated``), which keeps memory bounded.
    """
    bits, hyperplanes = _positive_int(bits, "bits"), _positive_int(hyperplanes, "hyperplanes")
    if bits % 8 or bits > 64 or hyperplanes % 8 or hyperplanes < bits:
        raise InputError(f"bits must be 8, 16, ..., 64 and hyperplanes a multiple of 8 >= bits; got bits={bits}, hyperplanes={hyperplanes}")
    bands, probe, boot = (_positive_int(v, k) for v, k in ((bands, "bands"), (probe, "probe"), (boot, "boot")))
    rng = np.random.default_rng(seed)
    reps = None
    rep_of: list[np.ndarray] = []   # per chunk: representative id (node) of each window
    merge_a, merge_b = [], []       # representative pairs found to be within threshold
    nodes = 0                        # representative ids issued (stored or not)
    stored_slot_node = []            # slot in `reps` -> node id
    checked = 0
    saturated = False
    planes = None
    shape = None
    offset_windows = 0               # windows seen before this chunk (names a bad window)
    for chunk in chunks:
        chunk = _as_windows(chunk)
        if shape is None:
            shape = chunk.shape[1:]
            if floor is None:
                floor = default_floor(chunk[:4096])
            floor = np.broadcast_to(np.asarray(floor, dtype=np.float32), (shape[1],)).copy()
            dim = shape[0] * shape[1]
            planes = rng.standard_normal((dim, hyperplanes)).astype(np.float32)
            offset = (0.25 * math.sqrt(dim) * rng.standard_normal(hyperplanes)).astype(np.float32)
            # each band samples `bits` of the pooled hyperplane bits (bit-sampling LSH on
            # the SimHash sketch, Indyk & Motwani 1998): `hyperplanes` projections, not bands·bits
            band_bytes = np.stack([rng.permutation(hyperplanes // 8)[: bits // 8] for _ in range(bands)])
            reps = _Representatives(dim, bands)
        elif chunk.shape[1:] != shape:
            raise InputError(f"window chunks must all be (time, channels) = {shape}, got {chunk.shape[1:]}")
        z = normalise_windows(chunk, floor[None, :], start=offset_windows)
        offset_windows += len(chunk)
        keys = _band_keys(z, planes, offset, band_bytes)
        order_key = z @ planes[:, 0]  # orders bucket members (near windows project close)
        node = np.full(len(z), -1, dtype=np.int64)
        todo = np.arange(len(z))
        grouped = []  # windows of this chunk already in a group
        while todo.size:
            # 1) against stored representatives
            slot_node = np.asarray(stored_slot_node, dtype=np.int64)
            if merge_a:  # current groups of the representatives, so each group is checked once
                merge_a, merge_b = [np.concatenate(merge_a)], [np.concatenate(merge_b)]
                comp_of_slot = _components(nodes, merge_a[0], merge_b[0])[slot_node]
            else:
                comp_of_slot = slot_node
            hit_w, hit_s, n_checked = _match(reps, z[todo], keys[todo], threshold, probe, comp_of_slot)
            checked += n_checked
            if hit_w.size:
                _take_hits(todo[hit_w], slot_node[hit_s], node, grouped, merge_a, merge_b)
            rest = todo[node[todo] < 0]
            # 1b) against every window of this chunk already grouped, not just the founders:
            #     a group's members reach further than its founder does. Joined windows are
            #     grouped in turn, so a chain a-b-c joins c through b (a few rounds at most,
            #     each against the windows the last one joined).
            against = np.concatenate(grouped) if grouped else np.empty(0, np.int64)
            for _ in range(4):
                if not (rest.size and against.size):
                    break
                hit_w, hit_n, n_checked = _join_grouped(z, keys, order_key, against, rest, node, threshold)
                checked += n_checked
                if hit_w.size == 0:
                    break
                against = _take_hits(hit_w, hit_n, node, grouped, merge_a, merge_b)  # met the rest only now

                rest = rest[node[rest] < 0]
            # 2) a head of the rest founds new groups among itself; the remainder is matched
            #    again against the grown set of representatives (so a first chunk of one
            #    repeated pattern costs a few thousand pair checks, not millions).
            head, todo = rest[:boot], rest[boot:]
            if head.size == 0:
                break
            ia, ib = _within_chunk_pairs(keys[head], order_key[head])
            ok = _verify(z, z, head[ia], head[ib], threshold)
            checked += len(ia)
            comp = _components(len(head), ia[ok], ib[ok])
            node[head] = nodes + comp
            founders = np.unique(comp, return_index=True)[1]  # first member of each component
            room = max(0, max_representatives - reps.count)
            if room < len(founders):
                saturated = True
                founders = founders[:room]
            if founders.size:
                reps.add(z[head[founders]], keys[head[founders]], np.arange(reps.count, reps.count + len(founders)))
                stored_slot_node.extend((nodes + comp[founders]).tolist())
            nodes += int(comp.max()) + 1
            grouped.append(head)
        rep_of.append(node)
    if shape is None:
        raise InputError("no windows to group: the input is empty")
    node = np.concatenate(rep_of)
    a = np.concatenate(merge_a) if merge_a else np.empty(0, np.int64)
    b = np.concatenate(merge_b) if merge_b else np.empty(0, np.int64)
    labels = _components(nodes, a, b)[node]
    return labels, floor, LSHStats(reps.count, checked, saturated)


# --- scoring -------------------------------------------------------------------------------------
def _same_group_pairs(labels) -> int:
    counts = np.unique(labels, return_counts=True)[1].astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def pair_scores(predicted, reference) -> tuple[float, float]:
    """(precision, recall) of same-group pairs of ``predicted`` against ``reference`` labels.

    A pair of windows counts when both labelings put it in one group; computed from the
    contingency table, not by listing pairs.
    """
    predicted, reference = np.asarray(predicted), np.asarray(reference)
    joint = np.unique(np.stack([predicted, reference]), axis=1, return_counts=True)[1].astype(np.int64)
    both = int((joint * (joint - 1) // 2).sum())
    pred, ref = _same_group_pairs(predicted), _same_group_pairs(reference)
    return (both / pred if pred else 1.0), (both / ref if ref else 1.0)


# --- the report ----------------------------------------------------------------------------------
@attrs.frozen(eq=False, repr=False)
class RedundancyReport:
    """Redundancy of a windowed corpus and its effective data.

    ``labels`` holds a group id per window and ``group_sizes`` the repetition count of each
    group (indexed by group id); ``regime_of_window`` names each window's regime;
    :meth:`group_table` lists every group with its size and regime.
    ``regime_data`` is the planner-facing description (:class:`~tsbudget.timeseries.regimes.RegimeData`)
    in ``unit``; ``effective`` is its effective data for one epoch over the corpus.
    """

    windows: int
    window_length: int
    channels: int
    labels: np.ndarray
    group_sizes: np.ndarray
    regime_of_window: np.ndarray
    regime_data: RegimeData
    threshold: float
    method: str
    floor: np.ndarray
    normal_min_size: int | None
    unit: str = "windows"
    diagnostics: Mapping[str, object] = attrs.field(factory=dict)

    @property
    def groups(self) -> int:
        return int(len(self.group_sizes))

    @property
    def cells_per_window(self) -> int:
        return self.window_length * self.channels

    @property
    def normal_share(self) -> float:
        """Share of windows in the ``normal`` regime (0 when no window is labelled normal)."""
        return float(np.mean(self.regime_of_window == "normal")) if self.windows else 0.0

    @property
    def raw(self) -> float:
        """Data read in one epoch over the corpus, in :attr:`unit`."""
        return float(self.regime_data.total_available)

    @property
    def unique(self) -> float:
        return float(self.regime_data.total_unique)

    @property
    def effective(self) -> float:
        """Effective data of one epoch over the corpus, in :attr:`unit`."""
        return float(self.regime_data.effective(self.regime_data.total_available))

    def effective_over_epochs(self, epochs) -> np.ndarray:
        """Effective data after ``epochs`` passes over the corpus (natural mix), in :attr:`unit`."""
        e = np.asarray(epochs, dtype=float)
        return self.regime_data.effective(e * self.regime_data.total_available)

    def to_dict(self, group_sizes: bool = False) -> dict:
        sizes, counts = np.unique(self.group_sizes, return_counts=True)
        out = {
            "success": True,
            "message": f"{self.windows} windows in {self.groups} groups",
            "unit": self.unit,
            "windows": self.windows,
            "groups": self.groups,
            "normal_share": self.normal_share,
            "raw": self.raw,
            "unique": self.unique,
            "effective": self.effective,
            "effective_fraction": self.effective / self.raw,
            "largest_group": int(self.group_sizes.max()),
            "group_size_histogram": {int(s): int(c) for s, c in zip(sizes, counts)},
            "regimes": self.regime_data.to_dict()["regimes"],
            "window_length": self.window_length,
            "channels": self.channels,
            "threshold": self.threshold,
            "method": self.method,
            "normal_min_size": self.normal_min_size,
            "floor": [float(f) for f in self.floor],
            "diagnostics": dict(self.diagnostics),
        }
        if group_sizes:
            out["group_sizes"] = self.group_sizes.tolist()
        return out

    def group_table(self):
        """One row per group: ``group`` (id, as in :attr:`labels`), ``size`` (its repetition
        count, windows in it), ``first_window`` (index of its first window, to look it up),
        ``regime`` (the regime of most of its windows; ties go to the label first in sorted
        order) and ``regime_share`` (the share of its windows in that regime: 1 unless user
        labels split the group across regimes). A polars DataFrame sorted by group id."""
        import polars as pl

        names, code = np.unique(self.regime_of_window, return_inverse=True)
        code = code.ravel().astype(np.int64)
        g, k = self.groups, len(names)
        first = np.unique(self.labels, return_index=True)[1]  # group ids are 0..groups-1
        per = np.bincount(self.labels * k + code, minlength=g * k).reshape(g, k)
        top = per.argmax(axis=1)
        return pl.DataFrame({
            "group": np.arange(g, dtype=np.int64),
            "size": self.group_sizes.astype(np.int64),
            "first_window": first.astype(np.int64),
            "regime": names[top].astype(str),
            "regime_share": per[np.arange(g), top] / self.group_sizes,
        })

    def __repr__(self) -> str:
        lines = [
            f"RedundancyReport: {self.windows} windows ({self.window_length} steps x {self.channels} channels) "
            f"in {self.groups} groups",
            f"  effective data  {self.effective:.6g} of {self.raw:.6g} {self.unit} "
            f"({self.effective / self.raw:.1%}); unique {self.unique:.6g}",
            f"  normal share    {self.normal_share:.1%}; largest group {int(self.group_sizes.max())} windows",
        ]
        rd = self.regime_data
        for n, u, a, r in zip(rd.regimes, rd.unique, rd.available, rd.r_star):
            lines.append(f"  regime {n:<12} {a:.6g} {self.unit}, {u:.6g} unique, R* = {r:.4g}")
        lines.append(f"  grouping        {self.method}, RMS threshold {self.threshold:g}")
        for k, v in self.diagnostics.items():
            lines.append(f"  {k:<15} {v}")
        return "\n".join(lines)


def _regimes_from_sizes(labels, sizes, normal_min_size):
    normal = sizes[labels] >= normal_min_size
    return np.where(normal, "normal", "rare")


def _window_source(data, window, stride, window_dim, time_dim, channel_dim, chunk):
    """-> (windows array or iterator of chunks, "windows" or "stream", series length in steps
    when the input was a series cut into windows here, else None)"""
    try:
        import xarray as xr
    except ImportError:  # pragma: no cover - xarray is a dependency
        xr = None
    if xr is not None and isinstance(data, xr.DataArray):
        if window_dim in data.dims:
            missing = [d for d in (time_dim, channel_dim) if d not in data.dims]
            if missing:
                raise InputError(f"DataArray with dim {window_dim!r} also needs dims {missing}; dims are {data.dims}")
            return _as_windows(data.transpose(window_dim, time_dim, channel_dim).values), "windows", None
        if time_dim not in data.dims:
            raise InputError(f"DataArray needs a {time_dim!r} (or {window_dim!r}) dim; dims are {data.dims}")
        order = [time_dim] + ([channel_dim] if channel_dim in data.dims else [])
        if set(data.dims) - set(order):
            raise InputError(f"DataArray has dims {data.dims}; expected {tuple(order)}")
        data = data.transpose(*order).values
    if isinstance(data, (str, os.PathLike)):
        return iter_npy_windows(data, chunk), "stream", None
    if isinstance(data, np.ndarray) or (hasattr(data, "__array__") and not isinstance(data, Iterator)):
        arr = np.asarray(data)
        if arr.ndim == 3:
            if window is not None:
                raise InputError("window applies to a series (time, channels); the input is already windowed (3-d)")
            return _as_windows(arr), "windows", None
        if window is None:
            raise InputError(f"a series of shape {arr.shape} needs a window length (window=...)")
        return _as_windows(sliding_windows(arr, window, stride)), "windows", int(arr.shape[0])
    if isinstance(data, Iterable):
        return iter(data), "stream", None
    raise InputError(f"cannot take windows from a {type(data).__name__}")


def measure_redundancy(
    data,
    *,
    window: int | None = None,
    stride: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    labels=None,
    normal_min_size: int = 5,
    r_star: Mapping[str, float] | None = None,
    unit: str = "windows",
    data_unit=None,
    method: str = "lsh",
    floor=None,
    chunk: int = DEFAULT_CHUNK,
    window_dim: str = "window",
    time_dim: str = "time",
    channel_dim: str = "channel",
    **lsh_options,
) -> RedundancyReport:
    """Group near-duplicate windows of ``data`` and report redundancy and effective data.

    ``data``: windows ``(n, T, C)``; a series ``(time[, channels])`` with ``window`` (and
    ``stride``, default ``window``); an xarray DataArray with dims ``(window, time, channel)``
    or ``(time[, channel])``; a ``.npy`` path; or an iterable of window chunks.
    ``labels``: per-window regime labels (length n), or per-step labels of a series (length
    time; see :func:`window_labels`); without them regimes come from group sizes.
    ``unit``: ``"windows"`` or ``"cells"`` (``window × channels`` per window); with
    ``data_unit`` (a registered name or instance counting channel-time cells, e.g. ``"cells"``)
    the count is in that unit's model positions. ``method``: ``"lsh"`` or ``"exact"``.
    """
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold > 0):
        raise InputError(f"threshold must be a finite number > 0, got {threshold!r}")
    if method not in ("lsh", "exact"):
        raise InputError(f"method must be 'lsh' or 'exact', got {method!r}")
    if unit not in ("windows", "cells"):
        raise InputError(f"unit must be 'windows' or 'cells', got {unit!r}")
    normal_min_size = _positive_int(normal_min_size, "normal_min_size")
    source, kind, steps = _window_source(data, window, stride, window_dim, time_dim, channel_dim, chunk)
    if kind == "windows":
        arr = source
        shape = arr.shape[1:]
        chunks = (arr[s : s + chunk] for s in range(0, len(arr), chunk))
    else:
        arr, chunks, shape = None, source, None

    diagnostics: dict[str, object] = {}
    if method == "exact":
        if arr is None:
            arr = np.concatenate(list(chunks))
        shape = arr.shape[1:]
        floor = default_floor(arr[: 4 * DEFAULT_CHUNK]) if floor is None else floor
        floor = np.broadcast_to(np.asarray(floor, dtype=np.float32), (shape[1],)).copy()
        group = exact_groups(normalise_windows(arr, floor[None, :]), threshold)
    else:
        seen = []

        def counted(it):
            for c in it:
                seen.append(np.shape(c))
                yield c

        group, floor, stats = lsh_groups(counted(chunks), threshold, floor=floor, **lsh_options)
        shape = seen[0][1:]
        diagnostics.update(
            representatives=stats.representatives, candidates_checked=stats.candidates_checked,
            saturated=stats.saturated,
        )
    n = len(group)
    _, group, sizes = np.unique(group, return_inverse=True, return_counts=True)
    group = group.ravel()

    if labels is None:
        regime = _regimes_from_sizes(group, sizes, normal_min_size)
    else:
        labels = np.asarray(labels).astype(str)
        if labels.shape == (n,):
            regime = labels
        elif steps is not None and labels.shape == (steps,):
            regime = window_labels(labels, window, stride)
        elif steps is not None:
            raise InputError(
                f"labels must have one value per time step of the series ({steps} steps) or one per "
                f"window ({n} windows); got {labels.size} labels" + (f" in shape {labels.shape}" if labels.ndim != 1 else "")
            )
        else:
            raise InputError(
                f"labels must have one value per window ({n} windows); got {labels.size} labels"
                + (f" in shape {labels.shape}" if labels.ndim != 1 else "")
            )
        normal_min_size = None

    names, code = np.unique(regime, return_inverse=True)
    available = np.bincount(code, minlength=len(names)).astype(float)
    pair = np.unique(code.astype(np.int64) * (n + 1) + group)
    unique = np.bincount(pair // (n + 1), minlength=len(names)).astype(float)
    regime_data = RegimeData.from_counts(
        dict(zip(names.tolist(), unique)), dict(zip(names.tolist(), available)), r_star, "windows"
    )
    if unit == "cells" or data_unit is not None:
        regime_data = regime_data.scaled(float(shape[0] * shape[1]), "cells")
    if data_unit is not None:
        from tsbudget.registry import units

        du = units.resolve(data_unit)
        regime_data = regime_data.scaled(float(du.positions_per_unit()), "positions")
    return RedundancyReport(
        windows=n,
        window_length=int(shape[0]),
        channels=int(shape[1]),
        labels=group,
        group_sizes=sizes,
        regime_of_window=regime,
        regime_data=regime_data,
        threshold=float(threshold),
        method=method,
        floor=np.asarray(floor, dtype=float),
        normal_min_size=normal_min_size,
        unit=regime_data.unit,
        diagnostics=diagnostics,
    )
