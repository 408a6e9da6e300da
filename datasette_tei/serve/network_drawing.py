"""The drawing of a coordination network: a Kamada-Kawai layout from igraph
(it spreads a dense core more evenly than Fruchterman-Reingold, which throws
weakly tied accounts to the edges) and an SVG written server-side, so that
the page needs no script and no CDN.

Screen names are written by troll farms: every text and attribute value that
comes from the data goes through markupsafe's escape().
"""
import functools
import math

from markupsafe import Markup, escape

# Ten colours told apart in print and by most colour-blind readers (Tableau 10).
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
OTHER_GROUPS = "#6b6b6b"
NO_GROUP = "#d0d0d0"
LABELLED = 15  # the strongest accounts get their screen name written beside them


def colours(group_ids):
    """{group_id: colour}: the first groups by number (1 = the largest) get a
    colour each, the rest share one."""
    ordered = sorted({g for g in group_ids if g is not None})
    return {g: PALETTE[i] if i < len(PALETTE) else OTHER_GROUPS for i, g in enumerate(ordered)}


# Kamada-Kawai moves one account a step: 20 steps an account settle the
# drawings here (igraph's default is 50), at about 0.1 s for 300 accounts.
STEPS_PER_NODE = 20


@functools.lru_cache(maxsize=64)  # the same run's page is asked again and again
def layout(count, pairs):
    """[(x, y)] in [0, 1] for `count` nodes, from igraph's Kamada-Kawai.

    Started from a circle, so that the same network is drawn the same way on
    every request (Kamada-Kawai draws no random numbers)."""
    import igraph

    if count == 0:
        return ()
    graph = igraph.Graph(n=count, edges=pairs)
    start = [[math.cos(2 * math.pi * i / count), math.sin(2 * math.pi * i / count)]
             for i in range(count)]
    coords = graph.layout_kamada_kawai(seed=start, maxiter=STEPS_PER_NODE * count).coords
    xs, ys = [c[0] for c in coords], [c[1] for c in coords]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    return tuple(((x - min(xs)) / span_x, (y - min(ys)) / span_y) for x, y in coords)


def draw(nodes, edges, width=960, height=640, margin=40):
    """SVG of nodes [{id, label, title, colour, own, url}] and edges
    [{source, target, weight, title, url}] (source/target index nodes).

    Every node and edge is a link; each has a tooltip (<title>)."""
    if not nodes:
        return Markup('<p class="tei-empty">No edges to draw.</p>')
    strength = [0] * len(nodes)
    for edge in edges:
        strength[edge["source"]] += edge["weight"]
        strength[edge["target"]] += edge["weight"]
    positions = layout(len(nodes), tuple((e["source"], e["target"]) for e in edges))
    points = [(margin + x * (width - 2 * margin), margin + y * (height - 2 * margin))
              for x, y in positions]
    heaviest = max((e["weight"] for e in edges), default=1) or 1
    strongest = max(strength) or 1
    parts = [
        f'<svg class="tei-network" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="Coordination network" xmlns="http://www.w3.org/2000/svg">',
        '<g class="tei-edges">',
    ]
    for edge in sorted(edges, key=lambda e: e["weight"]):  # strongest drawn on top
        (x1, y1), (x2, y2) = points[edge["source"]], points[edge["target"]]
        stroke = 0.6 + 3.4 * edge["weight"] / heaviest
        parts.append(
            f'<a href="{escape(edge["url"])}"><line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" '
            f'y2="{y2:.1f}" stroke-width="{stroke:.2f}"><title>{escape(edge["title"])}</title>'
            f'</line></a>'
        )
    parts.append('</g><g class="tei-nodes">')
    for i, node in enumerate(nodes):
        x, y = points[i]
        radius = 3.5 + 7 * math.sqrt(strength[i] / strongest)
        ring = "" if node["own"] else ' class="tei-other-campaign"'
        parts.append(
            f'<a href="{escape(node["url"])}"><circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" '
            f'fill="{escape(node["colour"])}"{ring}><title>{escape(node["title"])}</title>'
            f'</circle></a>'
        )
    ranked = sorted(range(len(nodes)), key=lambda i: (-strength[i], nodes[i]["id"]))
    for i in ranked[:LABELLED]:
        x, y = points[i]
        label = nodes[i]["label"]
        label = label if len(label) <= 20 else label[:19] + "…"
        anchor = "end" if x > width * 0.8 else "start"
        dx = -9 if anchor == "end" else 9
        parts.append(f'<text x="{x + dx:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}" '
                     f'class="tei-node-label">{escape(label)}</text>')
    parts.append("</g></svg>")
    return Markup("".join(parts))
