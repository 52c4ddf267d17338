"""hqmed.explain: Grad-CAM / Grad-CAM++ / saliency maps and their overlays (``hqmed explain``)."""

from hqmed.explain.cam import METHODS, attribute, default_layer, find_layer
from hqmed.explain.overlay import overlay_png, overlay_rgb
from hqmed.explain.run import RunExplainer, resolve_target

__all__ = ["METHODS", "attribute", "default_layer", "find_layer", "overlay_png", "overlay_rgb",
           "RunExplainer", "resolve_target"]
