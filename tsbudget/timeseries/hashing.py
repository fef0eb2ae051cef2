"""Grouping near-duplicate windows: the exact reference and a streaming LSH leader scheme.

Windows within the threshold (RMS distance of normalised windows,
:mod:`tsbudget.timeseries.normalise`) are linked; groups are connected components.

:func:`exact_groups` links every pair (O(n²), chunked; the reference for tests).

:func:`lsh_groups` (default) is a streaming leader scheme: sign-random-projection LSH
(SimHash, Charikar 2002: two vectors at angle θ agree on a random hyperplane bit with
probability ``1 − θ/π``). One pool of ``hyperplanes`` projections (128) gives a bit sketch per
window; each of ``bands`` (32) bands samples ``bits`` (16) of those bits in blocks of 8
(bit-sampling LSH on the sketch, Indyk & Motwani 1998), so the cost is one ``(T·C) × 128``
matrix product per window. A band key shared with a stored group representative proposes a
candidate; every candidate is verified with the true distance; a window that matches no
representative founds a new group (within-chunk candidates from the same band keys, verified
and joined by connected components) and its first member becomes a representative; a window
matching representatives of two groups merges them (union-find through
:func:`scipy.sparse.csgraph.connected_components`). Memory is the chunk, the representatives
(one float32 vector each, at most ``max_representatives``) and one int64 label per window —
about 400 MiB peak for 10⁶ windows of 64 × 8.

Against the exact reference, every fast link is a verified near pair (pair precision 1);
recall of same-group pairs is >= 0.95 on the noisy test corpus streamed in chunks of 1,000
(tests/timeseries/test_hashing.py) and drops when near-duplicates sit close to the threshold
or arrive in one large chunk (benchmarks/README.md, ``benchmarks/redundancy_recall.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import attrs
import numpy as np

from tsbudget.data_unit import int_setting
from tsbudget.errors import InputError
from tsbudget.timeseries.normalise import DEFAULT_THRESHOLD, default_floor, normalise_windows, rms_distance
from tsbudget.timeseries.windows import as_windows

__all__ = ["LSHStats", "exact_groups", "lsh_groups"]


def _components(n: int, i, j) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes linked by the edges ``(i[k], j[k])``."""
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
        ok[s : s + batch] = rms_distance(za[ia[s : s + batch]], zb_source[ib[s : s + batch]]) <= threshold
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
    """Streaming near-duplicate grouping (see the module docstring).

    ``chunks`` yields window arrays ``(m, T, C)``. Returns ``(labels, floor, stats)`` where
    ``labels`` are connected-component ids per window. When ``max_representatives`` is reached,
    later windows that match no stored representative still group within their chunk but are
    not stored (``stats.saturated``), which keeps memory bounded.
    """
    bits, hyperplanes = int_setting("bits")(bits), int_setting("hyperplanes")(hyperplanes)
    if bits % 8 or bits > 64 or hyperplanes % 8 or hyperplanes < bits:
        raise InputError(f"bits must be 8, 16, ..., 64 and hyperplanes a multiple of 8 >= bits; got bits={bits}, hyperplanes={hyperplanes}")
    bands, probe, boot = (int_setting(k)(v) for v, k in ((bands, "bands"), (probe, "probe"), (boot, "boot")))
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
        chunk = as_windows(chunk)
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

