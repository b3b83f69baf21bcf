"""Networks: the shared Transformer backbone and the judge classifier."""

from genstrat.nn.backbone import Backbone, BackboneConfig, KVCache
from genstrat.nn.judge import Judge

__all__ = ["Backbone", "BackboneConfig", "KVCache", "Judge"]
