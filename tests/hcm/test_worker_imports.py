"""hcm/worker_imports.py: the stand-in a worker gets for a module it imports but rarely uses."""

import sys

from hcm.worker_imports import _DeferredModule


def test_deferred_module__imports_the_real_module_at_the_first_attribute_read(monkeypatch):
    # A module no test imports otherwise: its first import is the stand-in's.
    name = "colorsys"
    monkeypatch.delitem(sys.modules, name, raising=False)
    stand_in = _DeferredModule(name)
    monkeypatch.setitem(sys.modules, name, stand_in)

    import colorsys  # an importer of it at start-up binds the stand-in

    assert colorsys is stand_in
    assert name in sys.modules and sys.modules[name] is stand_in  # nothing imported yet

    assert colorsys.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    real = sys.modules[name]
    assert real is not stand_in and type(real).__name__ == "module"
    # Later importers get the real module; the early ones' stand-in forwards every read.
    assert stand_in.hls_to_rgb is real.hls_to_rgb
