"""``figures``: the limit-density heatmaps and the paper's experiments, drawn from engine
results (THEORY.md section 8).

- :mod:`figures.data` computes what each figure shows by calling ``numerics`` (and the
  closed forms of ``theory.formulas``): it re-exports :mod:`figures.heatmap_data`,
  :mod:`figures.curve_data` and :mod:`figures.phase_data`, one per plotting module;
- :mod:`figures.heatmaps`, :mod:`figures.curves`, :mod:`figures.phase` lay those numbers out
  (plain matplotlib ``Figure`` objects: no pyplot, no backend, never a window);
- :mod:`figures.gallery` makes the whole gallery (``selfconsume figures``), and
  :func:`demo_figure` the figure of one scenario (``selfconsume heatmap``, ``demo``).
"""

from .gallery import GALLERY, demo_figure, heatmap_figure, make_gallery
from .saving import save_figure

__all__ = ["GALLERY", "demo_figure", "heatmap_figure", "make_gallery", "save_figure"]
