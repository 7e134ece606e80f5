"""Our docks open as tabs: a widget opened beside another dock goes into a tab with it.

napari's *Plugins* menu docks a widget below the ones already open on that side, so three
of ours stacked would squeeze the canvas (to 474 px on a 1366x768 screen) or push the window
past the screen. Each of our widgets calls :func:`tabify_when_docked`; once napari has docked
it, it joins the docks already on its side as a tab and comes to the front. napari's public
``add_dock_widget(..., tabify=True)`` does the same for docks we add ourselves; this covers the
menu. The dock is reached as napari documents (``viewer.window.dock_widgets``: the Qt parent
of a docked widget is its dock), and only Qt's own ``QMainWindow`` API is used on it.
"""

from __future__ import annotations

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QDockWidget, QMainWindow


def tabify_when_docked(widget) -> None:
    """Once ``widget`` (a magicgui or Qt widget) is docked, tab it with the docks on its side."""
    native = getattr(widget, "native", widget)
    QTimer.singleShot(0, lambda: tabify(native))


def tabify(native) -> bool:
    """Tab the dock holding ``native`` onto another dock shown on the same side; True when it did.

    Nothing happens when ``native`` is not docked, is docked alone on its side, or already
    shares a tab with another dock.
    """
    dock = native.parent()
    if not isinstance(dock, QDockWidget) or not isinstance(main := dock.parent(), QMainWindow):
        return False
    if main.tabifiedDockWidgets(dock):
        return False
    area = main.dockWidgetArea(dock)
    others = [
        d
        for d in main.findChildren(QDockWidget)
        if d is not dock and not d.isHidden() and not d.isFloating() and main.dockWidgetArea(d) == area
    ]
    if not others:
        return False
    main.tabifyDockWidget(others[0], dock)
    dock.show()
    dock.raise_()
    return True
