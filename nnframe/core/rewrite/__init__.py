"""Graph rewrites applied by ``function()`` (unless the mode turns them off)."""

__all__ = ["rewrite_graph"]


def rewrite_graph(fgraph):
    """Rewrite ``fgraph`` in place (the pass list grows with the rewrite issue)."""
    return fgraph
