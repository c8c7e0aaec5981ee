"""The plugin facade exports exactly what it declares (httpx's test_exported_members)."""

import mrt.api


def test_all_is_complete_and_importable() -> None:
    public = {n for n in dir(mrt.api) if not n.startswith("_")} - {"annotations"}
    assert set(mrt.api.__all__) == public
    for name in mrt.api.__all__:
        assert getattr(mrt.api, name) is not None
