"""poisondetect: detecting backdoor poisoning with LRP heatmaps and optimal transport.

The package behind the thesis notebooks. Subpackages follow the flow of data:
``data`` -> ``attacks`` -> ``models``/``training`` -> ``explain`` -> ``transport``
-> ``detection`` -> ``report``.
"""

__version__ = "0.1.0"
