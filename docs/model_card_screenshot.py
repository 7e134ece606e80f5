"""Regenerate docs/img/model_card_warning.png: the Segment widget questioning brain-tissue on the CT.

Opens the sample CT, chooses ``brain-tissue`` (a brain MRI model) and presses Run; the widget
compares the image with the model's card and asks before running. The question box is saved,
then answered No (nothing runs).

Run under a display or Xvfb: ``xvfb-run -a -s "-screen 0 1600x1000x24" python docs/model_card_screenshot.py``
"""

from __future__ import annotations

from pathlib import Path


def main(out: Path = Path(__file__).parent / "img" / "model_card_warning.png") -> None:
    import napari
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication, QMessageBox

    from napari_medseg._napari.segment_widget import SegmentWidget

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1366, 768)
    viewer.open_sample("napari-medseg", "ct_series")
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Segment (U-Net)", area="right")

    def answer_no():
        box = QApplication.activeModalWidget()
        out.parent.mkdir(parents=True, exist_ok=True)
        box.grab().save(str(out))
        print(f"wrote {out}: {box.text()!r}")
        box.button(QMessageBox.No).click()

    QTimer.singleShot(1500, answer_no)
    widget.run()
    print(f"status: {widget.status}")
    viewer.close()


if __name__ == "__main__":
    main()
