"""The front-door widget: real controls, real decisions, a printed fallback."""

from __future__ import annotations

from facelab import widgets


def test_front_door_controls_change_the_decision(office_db, model, capsys):
    box = widgets.front_door(office_db, model, interactive=True)
    row, slider, _out = box.children
    pick, who = row.children
    assert len(pick.options) == 25 and list(who.options) == list(office_db)
    assert "ben_afflek_1.png claims to be ben_afflek" in capsys.readouterr().out
    slider.value = 1.1  # the genuine visitor at ~0.80 is let in once the threshold is looser
    said = capsys.readouterr().out
    assert "< threshold 1.10 -> door opens" in said
    who.value = "madonna"  # ben_afflek's picture claiming madonna's badge
    said = capsys.readouterr().out
    assert "ben_afflek_1.png claims to be madonna" in said and "door stays shut" in said


def test_front_door_printed_fallback(office_db, model, capsys):
    widgets.front_door(office_db, model, interactive=False)
    line = capsys.readouterr().out.strip()
    assert line.startswith("ben_afflek_1.png claims to be ben_afflek: distance 0.")
    assert line.endswith("door stays shut")
