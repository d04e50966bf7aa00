"""adain_lesson.viz: image grids and the small curve helpers the notebooks share."""

from __future__ import annotations

import pytest
import torch

from adain_lesson.viz import as_image, image_grid, moving_average, tail_mean


def test_moving_average_is_trailing_and_keeps_the_length() -> None:
    values = [1.0, 3.0, 5.0, 7.0, 9.0]
    assert moving_average(values, 1) == values
    assert moving_average(values, 2) == [1.0, 2.0, 4.0, 6.0, 8.0]
    assert moving_average(values, 10) == [1.0, 2.0, 3.0, 4.0, 5.0]  # longer than the data: running mean
    with pytest.raises(ValueError):
        moving_average(values, 0)


def test_tail_mean_takes_the_last_fraction() -> None:
    values = list(range(10))
    assert tail_mean(values) == 8.5  # the last 2 of 10
    assert tail_mean(values, 0.5) == 7.0
    assert tail_mean([4.0]) == 4.0
    with pytest.raises(ValueError):
        tail_mean([])


def test_image_grid_places_images_in_reading_order() -> None:
    a, b = torch.zeros(3, 4, 4), torch.ones(1, 2, 2)  # sizes and channel counts may differ
    grid = image_grid([a, b, a], nrow=2, padding=1, pad_value=0.5)
    assert grid.shape == (3, 2 * 4 + 3, 2 * 4 + 3)
    assert grid[:, 1:5, 1:5].eq(0).all()  # a, top left
    assert grid[:, 2:4, 7:9].eq(1).all()  # b (grey expanded to RGB), top right, centred in its cell
    assert grid[:, 0, :].eq(0.5).all()
    assert as_image(torch.full((1, 1, 2, 2), 2.0)).eq(1).all()  # batch of 1, clamped


def test_draw_architecture_has_the_labelled_boxes_of_fig2() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from adain_lesson.viz import ARCHITECTURE_BOXES, draw_architecture

    fig = draw_architecture()
    try:
        ax = fig.axes[0]
        boxes = {p.get_gid(): p for p in ax.patches if isinstance(p, FancyBboxPatch)}
        assert set(boxes) == set(ARCHITECTURE_BOXES)
        texts = {t.get_text() for t in ax.texts}
        assert set(ARCHITECTURE_BOXES.values()) <= texts
        for key, label in ARCHITECTURE_BOXES.items():  # every label sits inside its box
            (text,) = [t for t in ax.texts if t.get_text() == label]
            assert boxes[key].contains_point(ax.transData.transform(text.get_position())), key
        labels = " ".join(ARCHITECTURE_BOXES.values())
        for word in ("VGG encoder", "relu4_1", "AdaIN", "decoder", "L_c", "L_s"):
            assert word in labels
        assert sum(isinstance(p, FancyArrowPatch) for p in ax.patches) >= 12
        assert "Fig. 2" in ax.get_title()
    finally:
        plt.close(fig)


def test_show_images_of_nothing_says_so_instead_of_dividing_by_zero() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from adain_lesson.viz import show_images

    fig = show_images([], [], suptitle="samples")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts == ["no images to show yet"]
    plt.close(fig)
    fig = show_images([torch.rand(3, 8, 8)] * 3, ["a", "b", "c"], ncols=2)
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "a"
    plt.close(fig)


def test_plot_curve_draws_a_marker_for_a_single_point_and_says_when_empty() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from adain_lesson.viz import plot_curve

    fig, (a, b, c) = plt.subplots(1, 3)
    (one,) = plot_curve(a, [10], [0.5], marker=None)  # what a notebook passes in full mode
    assert one.get_marker() == "o"
    (many,) = plot_curve(b, [1, 2, 3], [3.0, 2.0, 1.0])
    assert many.get_marker() in ("None", None, "")  # a plain line, as ax.plot draws it
    assert plot_curve(c, [], []) == [] and [t.get_text() for t in c.texts] == ["no data yet"]
    plt.close(fig)
