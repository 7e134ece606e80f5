"""Our widgets opened from napari's Plugins menu join the docks on their side as tabs (no stacked squeeze)."""

from __future__ import annotations

import pytest
from qtpy.QtWidgets import QApplication

WIDGETS = ("Segment (U-Net)", "Evaluate", "Save labels")


def _plugin_actions(viewer) -> dict:
    """Text -> QAction of every leaf of napari's Plugins menu (submenus built as when shown)."""

    def leaves(menu):
        menu.aboutToShow.emit()
        out = {}
        for action in menu.actions():
            out.update(leaves(action.menu()) if action.menu() is not None else {action.text(): action})
        return out

    return leaves(viewer.window.plugins_menu)


def _dock(viewer, title):
    widget = next(w for name, w in viewer.window.dock_widgets.items() if name.startswith(title))
    return getattr(widget, "native", widget).parent()  # napari documents the Qt parent as the dock


@pytest.mark.parametrize("n", [2, 3])
def test_widgets_opened_from_the_plugins_menu_share_one_tabbed_dock(make_napari_viewer, n):
    viewer = make_napari_viewer()
    actions = _plugin_actions(viewer)
    for title in WIDGETS[:n]:
        next(a for text, a in actions.items() if text.startswith(title)).trigger()
        QApplication.processEvents()  # the tab is made once napari has docked the widget
    docks = [_dock(viewer, title) for title in WIDGETS[:n]]
    main = docks[0].parent()
    for dock in docks:
        assert {*main.tabifiedDockWidgets(dock), dock} == set(docks)  # every one a tab of the same group
    assert all(main.dockWidgetArea(d) == main.dockWidgetArea(docks[0]) for d in docks)


def test_a_widget_alone_on_its_side_stays_untabbed(make_napari_viewer):
    from napari_medseg._napari.docking import tabify

    viewer = make_napari_viewer()
    next(a for text, a in _plugin_actions(viewer).items() if text.startswith("Evaluate")).trigger()
    QApplication.processEvents()
    dock = _dock(viewer, "Evaluate")
    assert dock.parent().tabifiedDockWidgets(dock) == []
    assert tabify(next(iter(viewer.window.dock_widgets.values())).native) is False


def test_the_three_main_docks_fit_a_1366_by_768_screen(make_napari_viewer):
    """Tabbed, the tallest dock sets the window's height: with napari's menu, status bar and the tab
    bar (about 90 px) it must leave room for a 40 px task bar on a 768 px screen."""
    viewer = make_napari_viewer()
    actions = _plugin_actions(viewer)
    titles = ("Segment (U-Net)", "Interactive SAM", "Evaluate")
    for title in titles:
        next(a for text, a in actions.items() if text.startswith(title)).trigger()
        QApplication.processEvents()
    sizes = {title: _dock(viewer, title).minimumSizeHint() for title in titles}
    assert max(s.height() for s in sizes.values()) <= 640, {t: s.height() for t, s in sizes.items()}
    assert max(s.width() for s in sizes.values()) <= 500, {t: s.width() for t, s in sizes.items()}
